/**
 * Rows as a `Stream`: fetched in chunks of `fetchSize` through a server-side cursor, so
 * memory stays constant however large the result, and the producer waits for the consumer.
 * The stream holds its connection only while it is consumed; ending it early (`take`,
 * interruption, a downstream failure) closes the cursor and returns the connection clean.
 * An error mid-stream fails the stream — it cannot be ignored the way `rows.Err()` is.
 *
 * Outside a session the stream leases a connection for its lifetime and pulls rows from a
 * portal (`Execute` with a row limit) in the implicit transaction it owns. Inside a
 * transaction it reads through a server-side cursor (`DECLARE` / `FETCH`) that takes the
 * session only per fetch, so the consumer may run statements in the same transaction while
 * reading, and the rows reflect the transaction's snapshot. On a pinned Conn (no transaction)
 * the cursor needs one, so the stream opens its own and holds the Conn alone until it ends:
 * statements on that Conn wait for the stream meanwhile.
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Chunk, Effect, Option, Stream } from "effect"
import { Db, type Row } from "./Db.js"
import type { DbError } from "./DbError.js"
import * as Observe from "./internal/observe.js"
import * as Session from "./internal/session.js"

/**
 * Options of {@link stream}.
 *
 * @since 0.1.0
 */
export interface StreamOptions {
  /** Rows per round trip (default: 1000). */
  readonly fetchSize?: number | undefined
}

let cursorId = 0

/** A cursor in the current session (a transaction, or a pinned Conn it opens one on). */
const open = (
  current: Session.Session,
  sql: string,
  params: ReadonlyArray<unknown>,
  fetchSize: number
): Effect.Effect<Effect.Effect<Chunk.Chunk<Row>, Option.Option<DbError>>, DbError, Db | Scope.Scope> =>
  Effect.gen(function*() {
    const db = yield* Db
    let session: Session.Session
    if (Session.inTransaction(current)) {
      session = current
    } else {
      // A cursor needs a transaction: on a pinned Conn the stream opens one it owns, holding
      // the session exclusively for the stream's lifetime.
      const conn = current.conn
      yield* Session.holdExclusive(current)
      yield* Session.ensureOpen(current)
      session = Session.make(conn, "transaction", 1)
      yield* Effect.acquireRelease(conn.simpleQuery("BEGIN"), (_, exit) =>
        Effect.gen(function*() {
          yield* Session.close(session)
          yield* conn.awaitReady
          if (conn.isBroken || conn.transactionStatus === "idle") return
          yield* Effect.ignore(conn.simpleQuery(exit._tag === "Success" ? "COMMIT" : "ROLLBACK"))
        }))
    }
    const name = `berth_cursor_${++cursorId}`
    yield* Effect.acquireRelease(
      Observe.statement(
        db.target,
        sql,
        Session.use(session, (conn) => conn.query(`DECLARE ${name} NO SCROLL CURSOR FOR ${sql}`, params))
      ),
      () => Effect.ignore(Session.use(session, (conn) => conn.simpleQuery(`CLOSE ${name}`)))
    )
    let done = false
    const fetch = `FETCH FORWARD ${fetchSize} FROM ${name}`
    return Effect.suspend(() => {
      if (done) return Effect.fail(Option.none())
      return Session.use(session, (conn) => conn.query(fetch)).pipe(
        Effect.mapError(Option.some),
        Effect.flatMap((result) => {
          if (result.rows.length < fetchSize) done = true
          return result.rows.length === 0
            ? Effect.fail(Option.none())
            : Effect.succeed(Chunk.unsafeFromArray(result.rows))
        })
      )
    })
  })

/**
 * Streams the rows of a query in chunks of `fetchSize`.
 *
 * @example
 * ```ts
 * import { Db, Rows } from "@berth/sql"
 * import { Effect, Stream } from "effect"
 *
 * const total = Rows.stream("select amount from payments where day = $1", ["2026-01-01"], { fetchSize: 5000 }).pipe(
 *   Stream.runFold(0, (sum, row) => sum + Number(row.amount))
 * )
 * ```
 *
 * @since 0.1.0
 */
export const stream = (
  sql: string,
  params: ReadonlyArray<unknown> = [],
  options: StreamOptions = {}
): Stream.Stream<Row, DbError, Db> => {
  const fetchSize = options.fetchSize ?? 1000
  if (!Number.isInteger(fetchSize) || fetchSize < 1) {
    return Stream.die(new RangeError(`fetchSize must be a positive integer, got ${fetchSize}`))
  }
  return Stream.unwrapScoped(Effect.gen(function*() {
    const current = yield* Session.CurrentSession
    if (current === undefined) {
      // No session: a connection leased for the stream, and rows pulled from a portal
      // (Execute with a row limit) in the implicit transaction the stream owns.
      const db = yield* Db
      const conn = yield* db.lease
      return conn.stream(sql, params, { fetchSize })
    }
    // Inside a session, a server-side cursor: the stream takes the session only per FETCH,
    // so the consumer can run statements in the same transaction while it reads.
    return Stream.repeatEffectChunkOption(yield* open(current, sql, params, fetchSize))
  }))
}
