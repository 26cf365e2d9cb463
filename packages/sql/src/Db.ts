/**
 * `Db`: the service applications use — a pool of `@berth/pg` connections with every knob of
 * `@berth/pool`, release hygiene (a connection returned inside a transaction is rolled back or
 * destroyed, never handed on), an optional `DISCARD ALL` on release, and a startup ping so a
 * wrong URL fails the layer, not the first request.
 *
 * Statements run on the current session when there is one (a transaction, a savepoint or a
 * pinned Conn: see `Tx` and `Conn`), otherwise on a connection leased for that statement.
 *
 * @since 0.1.0
 */
import * as PgConfig from "@berth/pg/PgConfig"
import * as PgConnection from "@berth/pg/PgConnection"
import type * as PgError from "@berth/pg/PgError"
import type * as PgTypes from "@berth/pg/PgTypes"
import * as Pool from "@berth/pool/Pool"
import type * as PoolError from "@berth/pool/PoolError"
import type { Config, ConfigError, Scope } from "effect"
import { Context, Duration, Effect, FiberRef, Layer, Option, Schema } from "effect"
import { type DbError, DbUnavailableError, RowCountError } from "./DbError.js"
import * as Lanes from "./internal/lanes.js"
import * as Observe from "./internal/observe.js"
import * as Session from "./internal/session.js"

/**
 * A row as an object keyed by column name.
 *
 * @since 0.1.0
 */
export type Row = Record<string, unknown>

/**
 * The knobs of the underlying `@berth/pool` pool that a `Db` exposes unchanged.
 *
 * @since 0.1.0
 */
export type PoolKnobs = Partial<
  Omit<
    Pool.Options<PgConnection.PgConnection, PgError.PgError, never>,
    "acquire" | "validate" | "isUsable" | "onRelease" | "onCreate" | "onAcquire"
  >
>

/**
 * How to build a `Db`.
 *
 * @since 0.1.0
 */
export interface DbOptions extends PoolKnobs {
  /** A libpq connection string (URL or `key=value`). Ignored when `config` is given. */
  readonly url?: string | undefined
  /** An already parsed configuration (for instance from `PgConfig.config()`). */
  readonly config?: PgConfig.PgConfig | undefined
  /** Type codecs of every connection (default: `PgTypes.defaultRegistry`). */
  readonly types?: PgTypes.TypeRegistry | undefined
  /**
   * Each connection's prepared-statement cache: a capacity (default 256) or `"unnamed"` behind
   * PgBouncer in transaction pooling mode. See `PgConnection.ConnectOptions.statementCache`.
   */
  readonly statementCache?: number | "unnamed" | undefined
  /** Most statements on the wire per connection (default 100; 1 turns pipelining off). */
  readonly pipeline?: number | undefined
  /** Runs on every new connection before first use: `SET search_path`, prepared setup, ... */
  readonly afterConnect?: ((conn: PgConnection.PgConnection) => Effect.Effect<void, PgError.PgError>) | undefined
  /** `DISCARD ALL` when a connection is returned, so no session state leaks (default: false). */
  readonly resetOnRelease?: boolean | undefined
  /** Bound on the release hygiene (`ROLLBACK`, `DISCARD ALL`); past it the connection is destroyed (default: 5 s). */
  readonly releaseTimeout?: Duration.DurationInput | undefined
  /** A span per statement, after the OpenTelemetry database conventions (default: true). */
  readonly spans?: boolean | undefined
  /**
   * Single statements outside a session share connections when the pool is saturated: instead
   * of queueing for a connection, a statement is pipelined on the least busy one (each with its
   * own Sync, so outcomes stay separate). Transactions, pinned Conns and streams always get a
   * connection of their own. Default true; see docs/performance.md.
   */
  readonly pipelining?: boolean | undefined
}

/**
 * The `Db` service.
 *
 * @since 0.1.0
 */
export interface Service {
  readonly pool: Pool.Pool<PgConnection.PgConnection, PgError.PgError>
  readonly config: PgConfig.PgConfig
  /** The options every pooled connection is opened with (for dedicated connections). */
  readonly connectOptions: PgConnection.ConnectOptions
  /** @internal */
  readonly target: Observe.Target
  /**
   * Runs `f` with the current session's connection, or with a connection leased for the
   * duration of `f`.
   */
  readonly withConnection: <A, E, R>(
    f: (conn: PgConnection.PgConnection) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | DbError, R>
  /**
   * Runs `f`, which must send exactly one statement, with the current session's connection or,
   * outside a session, on a connection it may share with other single statements (pipelined,
   * see `DbOptions.pipelining`). `shared` tells `f` to pass `shared: true` to the statement.
   */
  readonly withStatement: <A, E, R>(
    f: (conn: PgConnection.PgConnection, shared: boolean) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | DbError, R>
  /**
   * Leases a connection for the current scope. When the scope closes, the connection is
   * cleaned (rolled back if left in a transaction, `DISCARD ALL` if configured) or, if that
   * fails or it is broken, destroyed instead of being returned.
   */
  readonly lease: Effect.Effect<PgConnection.PgConnection, DbError, Scope.Scope>
  /**
   * `withStatement`, observed for `target` (span, duration histogram, error counter).
   *
   * @internal
   */
  readonly observed: <A, E extends { readonly _tag: string }, R>(
    target: Observe.Target,
    sql: string,
    f: (conn: PgConnection.PgConnection, shared: boolean) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | DbError, R>
  /** Runs one statement, observed (span, duration histogram, error counter). */
  readonly run: (
    sql: string,
    params?: ReadonlyArray<unknown>,
    options?: PgConnection.QueryOptions
  ) => Effect.Effect<PgConnection.QueryResult, DbError>
}

/**
 * The `Db` service tag.
 *
 * @example
 * ```ts
 * import { Db } from "@berth/sql"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const db = yield* Db.Db
 *   return yield* db.run("select 1 as one")
 * })
 * ```
 *
 * @since 0.1.0
 */
export class Db extends Context.Tag("@berth/sql/Db")<Db, Service>() {}

const hostOf = (config: PgConfig.PgConfig): { readonly host: string; readonly port: number } =>
  config.hosts[0] ?? { host: "localhost", port: 5432 }

// Read through a function: the status changes under our feet, so no narrowing across awaits.
const statusOf = (conn: PgConnection.PgConnection): string => conn.transactionStatus

const reuse: Effect.Effect<"reuse" | "destroy"> = Effect.succeed("reuse")
const destroy: Effect.Effect<"reuse" | "destroy"> = Effect.succeed("destroy")

const releaseHygiene = (resetOnRelease: boolean, timeout: Duration.Duration) => {
  // The slow path talks to the server, so it is bounded; past the bound the connection is
  // destroyed rather than handed on in an unknown state.
  const clean = (conn: PgConnection.PgConnection): Effect.Effect<"reuse" | "destroy"> =>
    Effect.gen(function*() {
      if (conn.transactionStatus !== "idle") {
        const rolledBack = yield* Effect.exit(conn.simpleQuery("ROLLBACK"))
        if (rolledBack._tag === "Failure" || statusOf(conn) !== "idle") return "destroy" as const
      }
      if (resetOnRelease) {
        const reset = yield* Effect.exit(conn.simpleQuery("DISCARD ALL"))
        if (reset._tag === "Failure") return "destroy" as const
      }
      return conn.isBroken ? "destroy" as const : "reuse" as const
    }).pipe(
      Effect.timeoutTo({ duration: timeout, onTimeout: () => "destroy" as const, onSuccess: (decision) => decision })
    )
  // The status of the last ReadyForQuery is stale while an interrupted statement is still
  // being cancelled and drained, so wait for the connection to settle first (bounded by the
  // connection's cancel timeout). The common case — idle, nothing to reset — costs nothing.
  return (conn: PgConnection.PgConnection): Effect.Effect<"reuse" | "destroy"> =>
    Effect.flatMap(conn.awaitReady, () =>
      conn.isBroken
        ? destroy
        : conn.transactionStatus === "idle" && !resetOnRelease
        ? reuse
        : clean(conn))
}

const describe = (config: PgConfig.PgConfig): string => {
  const { host, port } = hostOf(config)
  return `${config.user}@${host}:${port}/${config.database}`
}

/**
 * Makes a `Db` in the current scope: builds the pool, then pings the database and fails
 * with `DbUnavailableError` when it cannot be reached. Closing the scope closes the pool.
 *
 * @example
 * ```ts
 * import { Db } from "@berth/sql"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const db = yield* Db.make({ url: "postgres://postgres@127.0.0.1:5432/postgres", maxOpen: 10 })
 *   const result = yield* db.run("select now() as now")
 *   console.log(result.rows)
 * }))
 * ```
 *
 * @since 0.1.0
 */
export const make = (
  options: DbOptions
): Effect.Effect<Service, DbUnavailableError | PoolError.PoolConfigError | PgError.PgConfigError, Scope.Scope> =>
  Effect.gen(function*() {
    const config = options.config ?? (yield* PgConfig.parse(options.url ?? ""))
    const {
      afterConnect,
      config: _config,
      pipeline,
      pipelining,
      releaseTimeout,
      resetOnRelease,
      spans,
      statementCache,
      types,
      url: _url,
      ...knobs
    } = options
    const connectOptions: PgConnection.ConnectOptions = {
      ...(types === undefined ? {} : { types }),
      ...(statementCache === undefined ? {} : { statementCache }),
      ...(pipeline === undefined ? {} : { pipeline })
    }
    const acquire = afterConnect === undefined
      ? PgConnection.connect(config, connectOptions)
      : Effect.tap(PgConnection.connect(config, connectOptions), afterConnect)
    const hygiene = releaseHygiene(resetOnRelease ?? false, Duration.decode(releaseTimeout ?? "5 seconds"))
    const pool = yield* Pool.make<PgConnection.PgConnection, PgError.PgError, never>({
      maxOpen: 10,
      validateAfterIdle: "1 second",
      ...knobs,
      acquire,
      isUsable: (conn) => !conn.isBroken,
      validate: (conn) =>
        conn.simpleQuery("").pipe(
          Effect.as(true),
          Effect.orElseSucceed(() => false)
        )
    })
    // Release hygiene runs in the lease itself, before the connection goes back: the common
    // case (idle, nothing to reset) is a synchronous check, and the slow path is bounded by
    // `releaseTimeout`. A connection that cannot be made clean is invalidated (destroyed).
    const cleanOrInvalidate = (conn: PgConnection.PgConnection): Effect.Effect<void> =>
      Effect.flatMap(hygiene(conn), (decision) => decision === "reuse" ? Effect.void : Pool.invalidate(pool, conn))
    const lease: Effect.Effect<PgConnection.PgConnection, DbError, Scope.Scope> = Effect.tap(
      Pool.get(pool),
      (conn) => Effect.addFinalizer(() => cleanOrInvalidate(conn))
    )
    const { host, port } = hostOf(config)
    const target: Observe.Target = {
      pool: knobs.name ?? "default",
      database: config.database,
      host,
      port,
      spans: spans ?? true
    }
    /** A connection of its own for the duration of `f`, cleaned (or destroyed) after it. */
    const leased = <A, E, R>(
      f: (conn: PgConnection.PgConnection) => Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | DbError, R> => Pool.use(pool, (conn) => Effect.ensuring(f(conn), cleanOrInvalidate(conn)))
    const withConnection = <A, E, R>(
      f: (conn: PgConnection.PgConnection) => Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | DbError, R> =>
      Effect.flatMap(
        Session.CurrentSession,
        (session): Effect.Effect<A, E | DbError, R> => session === undefined ? leased(f) : Session.use(session, f)
      )
    const lanes = Lanes.make(pool, cleanOrInvalidate)
    // outside a session: a connection of its own, or (the default) one it may share
    const sessionless = <A, E, R>(
      f: (conn: PgConnection.PgConnection, shared: boolean) => Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | DbError, R> =>
      pipelining === false ? leased((conn) => f(conn, false)) : lanes.run((conn) => f(conn, true))
    const withStatement = <A, E, R>(
      f: (conn: PgConnection.PgConnection, shared: boolean) => Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | DbError, R> =>
      Effect.flatMap(
        Session.CurrentSession,
        (session): Effect.Effect<A, E | DbError, R> =>
          session === undefined ? sessionless(f) : Session.use(session, (conn) => f(conn, false))
      )
    // Without a tracer recording spans, a statement records its metrics in the uninterruptible
    // end its lane or its session's lock already has, instead of a second region around it.
    const observed = <A, E extends { readonly _tag: string }, R>(
      statementTarget: Observe.Target,
      sql: string,
      f: (conn: PgConnection.PgConnection, shared: boolean) => Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | DbError, R> =>
      Effect.withFiberRuntime<A, E | DbError, R>((fiber) => {
        const session = Context.get(fiber.currentContext, Session.CurrentSession)
        if (
          (statementTarget.spans && Observe.isRecording(fiber.currentTracer)) ||
          (session === undefined && pipelining === false)
        ) {
          return Observe.statement(statementTarget, sql, withStatement(f))
        }
        const done = Observe.completion(statementTarget, sql, fiber.getFiberRef(FiberRef.currentMetricLabels))
        return session !== undefined
          ? Session.use(session, (conn) => f(conn, false), done)
          : lanes.run((conn) => f(conn, true), done)
      })
    const run = (
      sql: string,
      params: ReadonlyArray<unknown> = [],
      queryOptions?: PgConnection.QueryOptions
    ): Effect.Effect<PgConnection.QueryResult, DbError> =>
      observed(
        target,
        sql,
        (conn, shared) => conn.query(sql, params, Lanes.statementOptions(queryOptions, shared))
      )

    // "sql.Open doesn't connect": a Db that was built has answered a query.
    yield* Effect.scoped(Effect.flatMap(lease, (conn) => conn.query("select 1"))).pipe(
      Effect.mapError((cause) =>
        new DbUnavailableError({
          message: `PostgreSQL at ${describe(config)} is unreachable: ${
            cause instanceof Error || (typeof cause === "object" && cause !== null && "message" in cause)
              ? String((cause as { message: unknown }).message)
              : String(cause)
          }`,
          cause
        })
      )
    )
    return {
      pool,
      config,
      connectOptions,
      target,
      lease,
      withConnection,
      withStatement,
      observed,
      run
    } satisfies Service
  })

/**
 * A layer providing `Db`, from options.
 *
 * @example
 * ```ts
 * import { Db } from "@berth/sql"
 *
 * const DbLive = Db.layer({ url: "postgres://postgres@127.0.0.1:5432/postgres", maxOpen: 20, maxIdleTime: "5 minutes" })
 * ```
 *
 * @since 0.1.0
 */
export const layer = (
  options: DbOptions
): Layer.Layer<Db, DbUnavailableError | PoolError.PoolConfigError | PgError.PgConfigError> =>
  Layer.scoped(Db, make(options))

/**
 * A layer providing `Db`, with the connection read through Effect `Config` (by default
 * `DATABASE_URL`, else the libpq `PG*` variables; the password is `Redacted`).
 *
 * @example
 * ```ts
 * import { Db } from "@berth/sql"
 *
 * // DATABASE_URL=postgres://app@db.internal/app, or PGHOST/PGUSER/PGPASSWORD/...
 * const DbLive = Db.layerConfig({ maxOpen: 20 })
 * ```
 *
 * @since 0.1.0
 */
export const layerConfig = (
  options: Omit<DbOptions, "url" | "config"> = {},
  config: Config.Config<PgConfig.PgConfig> = PgConfig.config()
): Layer.Layer<
  Db,
  DbUnavailableError | PoolError.PoolConfigError | PgError.PgConfigError | ConfigError.ConfigError
> => Layer.scoped(Db, Effect.flatMap(config, (config) => make({ ...options, config })))

/**
 * All rows of a statement, as objects.
 *
 * @example
 * ```ts
 * import { Db } from "@berth/sql"
 *
 * const users = Db.query("select id, name from users where active = $1", [true])
 * ```
 *
 * @since 0.1.0
 */
export const query = (
  sql: string,
  params?: ReadonlyArray<unknown>
): Effect.Effect<ReadonlyArray<Row>, DbError, Db> =>
  Effect.flatMap(Db, (db) => Effect.map(db.run(sql, params), (result) => result.rows))

/**
 * The first row, if any.
 *
 * @example
 * ```ts
 * import { Db } from "@berth/sql"
 *
 * const user = Db.queryOne("select * from users where id = $1", [42]) // Option<Row>
 * ```
 *
 * @since 0.1.0
 */
export const queryOne = (
  sql: string,
  params?: ReadonlyArray<unknown>
): Effect.Effect<Option.Option<Row>, DbError, Db> =>
  Effect.map(query(sql, params), (rows) => Option.fromNullable(rows[0]))

/**
 * Exactly one row, or a `RowCountError`.
 *
 * @example
 * ```ts
 * import { Db } from "@berth/sql"
 *
 * const count = Db.querySingle("select count(*) as n from users")
 * ```
 *
 * @since 0.1.0
 */
export const querySingle = (
  sql: string,
  params?: ReadonlyArray<unknown>
): Effect.Effect<Row, DbError | RowCountError, Db> =>
  Effect.flatMap(query(sql, params), (rows) =>
    rows.length === 1 && rows[0] !== undefined
      ? Effect.succeed(rows[0])
      : Effect.fail(
        new RowCountError({
          message: `expected exactly one row, got ${rows.length}`,
          expected: 1,
          actual: rows.length
        })
      ))

/**
 * Runs a statement for its effect and returns the affected row count (rows are not kept).
 *
 * @example
 * ```ts
 * import { Db } from "@berth/sql"
 *
 * const archived = Db.execute("update orders set archived = true where placed_at < $1", [new Date(2020, 0, 1)])
 * ```
 *
 * @since 0.1.0
 */
export const execute = (
  sql: string,
  params?: ReadonlyArray<unknown>
): Effect.Effect<number, DbError, Db> =>
  Effect.flatMap(Db, (db) => Effect.map(db.run(sql, params), (result) => result.rowCount ?? 0))

/**
 * All rows, decoded with a `Schema` (a decoding failure is a `ParseError`).
 *
 * @example
 * ```ts
 * import { Db } from "@berth/sql"
 * import { Schema } from "effect"
 *
 * const User = Schema.Struct({ id: Schema.Number, name: Schema.String })
 * const users = Db.querySchema(User, "select id, name from users")
 * ```
 *
 * @since 0.1.0
 */
export const querySchema = <A, I, R>(
  schema: Schema.Schema<A, I, R>,
  sql: string,
  params?: ReadonlyArray<unknown>
) => Effect.flatMap(query(sql, params), Schema.decodeUnknown(Schema.Array(schema)))

/**
 * Runs `f` with a raw `@berth/pg` connection: the current session's, or one leased for the
 * duration of `f` and returned (with release hygiene) afterwards.
 *
 * @example
 * ```ts
 * import { Db } from "@berth/sql"
 *
 * const pid = Db.withConnection((conn) => conn.query("select pg_backend_pid() as pid"))
 * ```
 *
 * @since 0.1.0
 */
export const withConnection = <A, E, R>(
  f: (conn: PgConnection.PgConnection) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | DbError, R | Db> => Effect.flatMap(Db, (db) => db.withConnection(f))

/**
 * The pool's statistics (open, in use, idle, waiting, wait count and duration, closes by
 * cause, ...).
 *
 * @example
 * ```ts
 * import { Db } from "@berth/sql"
 * import { Effect } from "effect"
 *
 * const logStats = Effect.flatMap(Db.stats, (stats) => Effect.log(stats))
 * ```
 *
 * @since 0.1.0
 */
export const stats: Effect.Effect<Pool.Stats, never, Db> = Effect.flatMap(Db, (db) => Pool.stats(db.pool))

/**
 * The first row, if any, decoded with a `Schema`.
 *
 * @example
 * ```ts
 * import { Db } from "@berth/sql"
 * import { Schema } from "effect"
 *
 * const User = Schema.Struct({ id: Schema.Number, name: Schema.String })
 * const user = Db.queryOneSchema(User, "select id, name from users where id = $1", [42]) // Option<User>
 * ```
 *
 * @since 0.1.0
 */
export const queryOneSchema = <A, I, R>(
  schema: Schema.Schema<A, I, R>,
  sql: string,
  params?: ReadonlyArray<unknown>
) =>
  Effect.flatMap(queryOne(sql, params), (row) =>
    Option.isNone(row)
      ? Effect.succeed(Option.none<A>())
      : Effect.map(Schema.decodeUnknown(schema)(row.value), Option.some))

/**
 * Exactly one row decoded with a `Schema`, or a `RowCountError`.
 *
 * @example
 * ```ts
 * import { Db } from "@berth/sql"
 * import { Schema } from "effect"
 *
 * const Count = Schema.Struct({ n: Schema.Number })
 * const count = Db.querySingleSchema(Count, "select count(*)::int as n from users")
 * ```
 *
 * @since 0.1.0
 */
export const querySingleSchema = <A, I, R>(
  schema: Schema.Schema<A, I, R>,
  sql: string,
  params?: ReadonlyArray<unknown>
) => Effect.flatMap(querySingle(sql, params), Schema.decodeUnknown(schema))
