/**
 * A pinned session: one connection for the lifetime of a Scope or a Layer, for what lives in
 * a session — temporary tables, `SET`, advisory locks, `LISTEN`. Statements (and
 * transactions) run inside use it automatically. When the scope closes, statements still in
 * flight finish, later ones fail with `TxClosedError`, and the connection goes back to the
 * pool through its release hygiene (rolled back if left in a transaction, `DISCARD ALL` if
 * configured).
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Context, Effect, FiberRef, Layer } from "effect"
import { Db } from "./Db.js"
import type { DbError } from "./DbError.js"
import * as Session from "./internal/session.js"

const acquire: Effect.Effect<Session.Session, DbError, Db | Scope.Scope> = Effect.gen(function*() {
  const current = yield* Session.CurrentSession
  // Already pinned (or inside a transaction): that session is the pinned connection.
  if (current !== undefined) {
    yield* Session.ensureOpen(current)
    return current
  }
  const db = yield* Db
  const conn = yield* db.lease
  const session = Session.make(conn, "conn", 0)
  yield* Effect.addFinalizer(() => Session.close(session))
  return session
})

/**
 * Pins a connection for the rest of the current scope.
 *
 * @example
 * ```ts
 * import { Conn, Db } from "@berth/sql"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   yield* Conn.pin
 *   yield* Db.execute("create temporary table scratch(x int)")
 *   yield* Db.execute("insert into scratch values (1)") // same session: the table is there
 * }))
 * ```
 *
 * @since 0.1.0
 */
export const pin: Effect.Effect<void, DbError, Db | Scope.Scope> = Effect.flatMap(
  acquire,
  (session) => Effect.locallyScopedWith(FiberRef.currentContext, Context.add(Session.CurrentSession, session))
)

/**
 * Runs `effect` with one pinned connection.
 *
 * @example
 * ```ts
 * import { Conn, Db } from "@berth/sql"
 * import { Effect } from "effect"
 *
 * const locked = Conn.withConn(Effect.gen(function*() {
 *   yield* Db.query("select pg_advisory_lock(42)")
 *   // ... work while holding the session-level lock ...
 *   yield* Db.query("select pg_advisory_unlock(42)")
 * }))
 * ```
 *
 * @since 0.1.0
 */
export const withConn = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | DbError, R | Db> =>
  Effect.scoped(Effect.flatMap(acquire, (session) => Effect.provideService(effect, Session.CurrentSession, session)))

/**
 * A layer that pins one connection for its whole lifetime: everything it is provided to
 * runs on that session (useful in tests, or for a single-connection worker).
 *
 * @example
 * ```ts
 * import { Conn, Db } from "@berth/sql"
 * import { Effect, Layer } from "effect"
 *
 * const Pinned = Conn.layer.pipe(Layer.provideMerge(Db.layer({ url: "postgres://postgres@127.0.0.1:5432/postgres" })))
 * const program = Db.query("select pg_backend_pid() as pid").pipe(Effect.provide(Pinned))
 * ```
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<never, DbError, Db> = Layer.scopedContext(
  Effect.map(acquire, (session) => Context.make(Session.CurrentSession, session) as Context.Context<never>)
)
