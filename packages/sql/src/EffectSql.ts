/**
 * `@effect/sql` on Berth: the same `Db` provides `SqlClient.SqlClient` and a
 * `PgClient.PgClient`-compatible service, so code written for `@effect/sql-pg` — `sql`
 * templates, `SqlSchema`, `SqlResolver`, `Model` repositories, `Migrator` — runs unchanged,
 * with Berth's pool, cancellation and transactions underneath:
 *
 * - `sql.withTransaction` is `Tx.transaction` (typed commit errors, rollback after cancel);
 * - `sql.reserve` is a pinned `Conn`;
 * - `executeStream` (`statement.stream`) is `Rows.stream` (a cursor, constant memory).
 *
 * Statements are compiled by `@effect/sql-pg`'s own compiler (see `SqlCompiler`).
 *
 * @since 0.1.0
 */
import * as PgConnection from "@berth/pg/PgConnection"
import * as Reactivity from "@effect/experimental/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlConnection from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import type { Scope } from "effect"
import { Chunk, Context, Effect, Layer, Option, Predicate, Queue, Redacted, Schedule, Stream } from "effect"
import * as Db from "./Db.js"
import type { DbError } from "./DbError.js"
import * as FastStatement from "./internal/fastStatement.js"
import * as Lanes from "./internal/lanes.js"
import * as Observe from "./internal/observe.js"
import * as Session from "./internal/session.js"
import * as Rows from "./Rows.js"
import * as SqlCompiler from "./SqlCompiler.js"
import * as Tx from "./Tx.js"

/**
 * Options of the `@effect/sql` client, as in `@effect/sql-pg`.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Renames result columns (e.g. `String.snakeToCamel`). */
  readonly transformResultNames?: ((name: string) => string) | undefined
  /** Renames identifiers in queries (e.g. `String.camelToSnake`). */
  readonly transformQueryNames?: ((name: string) => string) | undefined
  /** Whether the transforms also apply to JSON values (default: true). */
  readonly transformJson?: boolean | undefined
  /** Extra attributes on every statement span. */
  readonly spanAttributes?: Record<string, unknown> | undefined
}

interface PgJson extends Statement.Custom<"PgJson", unknown> {}
// The compiler of @effect/sql-pg recognises custom fragments by their kind.
const PgJson = Statement.custom<PgJson>("PgJson")

const messageOf = (error: unknown): string =>
  Predicate.hasProperty(error, "message") && typeof error.message === "string" ? error.message : String(error)

/**
 * Berth's typed errors as `SqlError`, the original kept as `cause` (SQLSTATE included).
 *
 * @example
 * ```ts
 * import { EffectSql } from "@berth/sql"
 *
 * const error = EffectSql.toSqlError(new Error("boom"))
 * ```
 *
 * @since 0.1.0
 */
export const toSqlError = (error: unknown): SqlError =>
  error instanceof SqlError ? error : new SqlError({ cause: error, message: messageOf(error) })

type Run = (
  sql: string,
  params: ReadonlyArray<unknown>,
  options?: PgConnection.QueryOptions
) => Effect.Effect<PgConnection.QueryResult, DbError>
type RunSimple = (sql: string) => Effect.Effect<ReadonlyArray<PgConnection.QueryResult>, DbError>

const makeConnection = (
  run: Run,
  runSimple: RunSimple,
  stream: (sql: string, params: ReadonlyArray<unknown>) => Stream.Stream<Db.Row, DbError>
): SqlConnection.Connection => {
  // As with the `pg` driver, a statement without parameters goes through the simple query
  // protocol, so multi-statement scripts (migrations) work; its result is one row array per
  // statement when there are several.
  const rows = (sql: string, params: ReadonlyArray<unknown>): Effect.Effect<ReadonlyArray<object>, DbError> =>
    params.length === 0
      ? Effect.map(runSimple(sql), (results) =>
        results.length === 1 && results[0] !== undefined
          ? results[0].rows
          : results.length === 0
          ? []
          : results.map((result) => result.rows))
      : Effect.map(run(sql, params), (result) => result.rows)
  const execute = (
    sql: string,
    params: ReadonlyArray<unknown>,
    transformRows: (<A extends object>(row: ReadonlyArray<A>) => ReadonlyArray<A>) | undefined
  ) =>
    Effect.mapError(
      transformRows === undefined ? rows(sql, params) : Effect.map(rows(sql, params), transformRows),
      toSqlError
    )
  return {
    execute,
    executeUnprepared: execute,
    executeRaw: (sql, params) => Effect.mapError(run(sql, params), toSqlError),
    executeValues: (sql, params) =>
      Effect.mapError(
        Effect.map(run(sql, params, { rowMode: "array" }), (result) =>
          result.rows as unknown as ReadonlyArray<ReadonlyArray<unknown>>),
        toSqlError
      ),
    executeStream: (sql, params, transformRows) => {
      const rowsStream = Stream.mapError(stream(sql, params), toSqlError)
      return transformRows === undefined
        ? rowsStream
        : Stream.mapChunks(
          rowsStream,
          (chunk) => Chunk.unsafeFromArray([...transformRows(Chunk.toReadonlyArray(chunk))])
        )
    }
  }
}

/**
 * Makes the `@effect/sql` client on a `Db`: a `PgClient.PgClient` (which is also a
 * `SqlClient.SqlClient`).
 *
 * @example
 * ```ts
 * import { Db, EffectSql } from "@berth/sql"
 * import { Reactivity } from "@effect/experimental"
 * import { Effect } from "effect"
 *
 * const client = EffectSql.make().pipe(Effect.provide(Reactivity.layer))
 * ```
 *
 * @since 0.1.0
 */
const sharedSimple = { shared: true } as const

export const make = (
  options: Options = {}
): Effect.Effect<PgClient.PgClient, never, Db.Db | Reactivity.Reactivity | Scope.Scope> =>
  Effect.gen(function*() {
    const db = yield* Db.Db
    // @effect/sql already opens a span per statement (with the OpenTelemetry attributes
    // below), so Berth records its metrics without a second span.
    const target: Observe.Target = { ...db.target, spans: false }
    // single statements: pipelined on a shared connection when the pool is saturated
    const run: Run = (sql, params, queryOptions) =>
      db.observed(
        target,
        sql,
        (conn, shared) => conn.query(sql, params, Lanes.statementOptions(queryOptions, shared))
      )
    const runSimple: RunSimple = (sql) =>
      db.observed(target, sql, (conn, shared) => conn.simpleQuery(sql, shared ? sharedSimple : undefined))
    const stream = (sql: string, params: ReadonlyArray<unknown>) =>
      Stream.provideService(Rows.stream(sql, params), Db.Db, db)
    const connection = makeConnection(run, runSimple, stream)
    const spanAttributes: Record<string, unknown> = {
      "db.system.name": "postgresql",
      "db.namespace": db.target.database,
      "server.address": db.target.host,
      "server.port": db.target.port,
      ...options.spanAttributes
    }
    const compiler = SqlCompiler.make({
      transformQueryNames: options.transformQueryNames,
      transformJson: options.transformJson
    })
    const transformRows = options.transformResultNames === undefined
      ? undefined
      : Statement.defaultTransforms(options.transformResultNames, options.transformJson ?? true).array

    // `reserve`: a connection pinned for the caller's scope, statements on it serialized
    // with the session lock like any other pinned Conn.
    const reserve: Effect.Effect<SqlConnection.Connection, SqlError, Scope.Scope> = Effect.gen(function*() {
      const conn = yield* Effect.mapError(db.lease, toSqlError)
      const session = Session.make(conn, "conn", 0)
      yield* Effect.addFinalizer(() => Session.close(session))
      const pinned = <A, E>(f: (conn: PgConnection.PgConnection) => Effect.Effect<A, E>) =>
        Effect.provideService(db.withConnection(f), Session.CurrentSession, session)
      return makeConnection(
        (sql, params, queryOptions) =>
          Observe.statement(target, sql, pinned((c) => c.query(sql, params, queryOptions))),
        (sql) => Observe.statement(target, sql, pinned((c) => c.simpleQuery(sql))),
        (sql, params) =>
          Stream.provideService(
            Stream.provideService(Rows.stream(sql, params), Db.Db, db),
            Session.CurrentSession,
            session
          )
      )
    })

    const client = FastStatement.install(
      yield* SqlClient.make({
        acquirer: Effect.succeed(connection),
        compiler,
        spanAttributes: Object.entries(spanAttributes),
        transformRows
      }),
      connection
    )

    const berthTransaction = <R, E, A>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
      Effect.provideService(
        Effect.catchAll(
          Tx.transaction(Effect.mapError(effect, (error) => new UserError({ error }))),
          (error): Effect.Effect<never, E | SqlError> =>
            error instanceof UserError ? Effect.fail(error.error as E) : Effect.fail(toSqlError(error))
        ),
        Db.Db,
        db
      )
    // Code that pinned a reserved connection as @effect/sql's TransactionConnection (as
    // migrators do) expects transactions on that very connection: keep @effect/sql's own
    // behaviour there. Everywhere else a transaction is a Berth transaction.
    const effectSqlTransaction = client.withTransaction
    const withTransaction = <R, E, A>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
      Effect.flatMap(
        Effect.serviceOption(SqlClient.TransactionConnection),
        (pinned) => Option.isSome(pinned) ? effectSqlTransaction(effect) : berthTransaction(effect)
      )

    // LISTEN holds a session for as long as the stream runs, so it gets a dedicated
    // connection outside the pool (as in @effect/sql-pg): a pooled one would be pinned
    // indefinitely and its notifications would leak to the next user.
    const listen = (channel: string): Stream.Stream<string, SqlError> =>
      Stream.unwrapScoped(
        Effect.gen(function*() {
          const queue = yield* Effect.acquireRelease(Queue.unbounded<string>(), Queue.shutdown)
          const conn = yield* PgConnection.connect(db.config, {
            ...db.connectOptions,
            onNotification: (notification) => {
              if (notification.channel === channel) Queue.unsafeOffer(queue, notification.payload)
            }
          })
          yield* conn.query(`LISTEN ${quoteIdentifier(channel)}`)
          // Notifications only arrive while the connection lives: a lost connection must end
          // the stream with an error, not leave it silently waiting.
          const watchdog = Stream.fromEffect(
            Effect.repeat(
              Effect.suspend(() =>
                conn.isBroken
                  ? Effect.fail(new SqlError({ message: `the LISTEN connection for ${channel} was lost` }))
                  : Effect.void
              ),
              Schedule.spaced("500 millis")
            )
          ).pipe(Stream.drain)
          return Stream.merge(Stream.fromQueue(queue), watchdog, { haltStrategy: "either" })
        }).pipe(Effect.mapError(toSqlError))
      )

    const notify = (channel: string, payload: string): Effect.Effect<void, SqlError> =>
      Effect.mapError(Effect.asVoid(db.run("select pg_notify($1, $2)", [channel, payload])), toSqlError)

    const config: PgClient.PgClientConfig = {
      host: db.target.host,
      port: db.target.port,
      database: db.target.database,
      username: db.config.user,
      ...(db.config.applicationName === undefined ? {} : { applicationName: db.config.applicationName }),
      transformResultNames: options.transformResultNames,
      transformQueryNames: options.transformQueryNames,
      transformJson: options.transformJson
    }

    const pgClient: PgClient.PgClient = Object.assign(client, {
      [PgClient.TypeId]: PgClient.TypeId as PgClient.TypeId,
      withTransaction,
      reserve,
      config,
      json: (value: unknown) => PgJson(value),
      listen,
      notify
    })
    return pgClient
  })

const quoteIdentifier = (name: string): string => `"${name.replace(/"/g, "\"\"")}"`

class UserError {
  constructor(readonly props: { readonly error: unknown }) {}
  get error(): unknown {
    return this.props.error
  }
}

/**
 * A layer providing `SqlClient.SqlClient` and `PgClient.PgClient` on the `Db` it is given.
 *
 * @example
 * ```ts
 * import { Db, EffectSql } from "@berth/sql"
 * import { SqlClient } from "@effect/sql"
 * import { Effect, Layer } from "effect"
 *
 * const SqlLive = EffectSql.layer().pipe(Layer.provideMerge(Db.layer({ url: "postgres://postgres@127.0.0.1:5432/postgres" })))
 *
 * const program = Effect.gen(function*() {
 *   const sql = yield* SqlClient.SqlClient
 *   return yield* sql<{ readonly one: number }>`select 1 as one`
 * }).pipe(Effect.provide(SqlLive))
 * ```
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, never, Db.Db> =>
  Layer.scopedContext(
    Effect.map(make(options), (client) =>
      Context.make(PgClient.PgClient, client).pipe(Context.add(SqlClient.SqlClient, client)))
  ).pipe(Layer.provide(Reactivity.layer))

/**
 * `Db` and the `@effect/sql` client in one layer, configured from `DATABASE_URL` / `PG*`:
 * a drop-in replacement for `PgClient.layerConfig`.
 *
 * @example
 * ```ts
 * import { EffectSql } from "@berth/sql"
 *
 * const SqlLive = EffectSql.layerConfig({ maxOpen: 10 })
 * ```
 *
 * @since 0.1.0
 */
export const layerConfig = (
  dbOptions: Omit<Db.DbOptions, "url" | "config"> = {},
  options: Options = {}
) => layer(options).pipe(Layer.provideMerge(Db.layerConfig(dbOptions)))

/**
 * `Db` and the `@effect/sql` client in one layer, from a connection string.
 *
 * @example
 * ```ts
 * import { EffectSql } from "@berth/sql"
 * import { Redacted } from "effect"
 *
 * const SqlLive = EffectSql.layerUrl(Redacted.make("postgres://postgres@127.0.0.1:5432/postgres"))
 * ```
 *
 * @since 0.1.0
 */
export const layerUrl = (
  url: Redacted.Redacted<string> | string,
  dbOptions: Omit<Db.DbOptions, "url" | "config"> = {},
  options: Options = {}
) =>
  layer(options).pipe(
    Layer.provideMerge(Db.layer({ ...dbOptions, url: typeof url === "string" ? url : Redacted.value(url) }))
  )
