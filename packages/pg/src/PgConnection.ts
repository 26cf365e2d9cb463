/**
 * One PostgreSQL connection as an Effect resource: the scope that `connect` runs in owns the
 * socket. Simple and extended queries, typed errors, and interruption as a wire-level
 * CancelRequest.
 *
 * @since 0.1.0
 */
import type * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import type * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as Take from "effect/Take"
import type * as tls from "node:tls"
import { BatchOp } from "./internal/batch.js"
import { CopyInOp, CopyOutOp } from "./internal/copy.js"
import { Out as CopyOut, textRow } from "./internal/copyEncode.js"
import { Core, type Listener } from "./internal/core.js"
import { PortalOp } from "./internal/portal.js"
import { type Description, PrepareOp } from "./internal/prepare.js"
import { type Plan, QueryOp, writeBind } from "./internal/query.js"
import { hostLabel, negotiateTls, openSocket, tlsOptions } from "./internal/socket.js"
import { startup } from "./internal/startup.js"
import { describe, StatementCache } from "./internal/statements.js"
import { Frontend } from "./internal/writer.js"
import type { HostPort, PgConfig } from "./PgConfig.js"
import {
  isServerError,
  PgConnectionError,
  type PgError,
  PgInputError,
  type PgServerError,
  PgTimeoutError,
  type ServerErrorFields
} from "./PgError.js"
import * as PgTypes from "./PgTypes.js"

/**
 * A result column, from RowDescription.
 *
 * @example
 * ```ts
 * import type { PgConnection } from "@berth/pg"
 *
 * const names = (fields: ReadonlyArray<PgConnection.Field>) => fields.map((f) => `${f.name}:${f.dataTypeOid}`)
 * ```
 *
 * @since 0.1.0
 */
export interface Field {
  readonly name: string
  /** OID of the table the column comes from, or 0. */
  readonly tableOid: number
  /** Attribute number of the column in that table, or 0. */
  readonly columnAttributeNumber: number
  readonly dataTypeOid: number
  readonly dataTypeSize: number
  readonly dataTypeModifier: number
  readonly format: "text" | "binary"
}

/**
 * The outcome of one statement.
 *
 * @example
 * ```ts
 * import type { PgConnection } from "@berth/pg"
 *
 * const affected = (r: PgConnection.QueryResult) => r.rowCount ?? 0
 * ```
 *
 * @since 0.1.0
 */
export interface QueryResult<Row = Record<string, unknown>> {
  readonly rows: ReadonlyArray<Row>
  readonly fields: ReadonlyArray<Field>
  /** The command tag without its counts: `SELECT`, `INSERT`, `CREATE TABLE`, ... */
  readonly command: string
  /** Rows affected or returned, for commands that report it. */
  readonly rowCount: number | undefined
}

/**
 * Options of {@link PgConnection.query}.
 *
 * @example
 * ```ts
 * import { PgConnection } from "@berth/pg"
 *
 * declare const conn: PgConnection.PgConnection
 * const rows = conn.query("select 1, 2", [], { rowMode: "array" }) // rows: [[1, 2]]
 * ```
 *
 * @since 0.1.0
 */
export interface QueryOptions {
  /** `object` (default): rows keyed by column name; `array`: rows as arrays in column order. */
  readonly rowMode?: "object" | "array"
  /**
   * The caller holds no session on this connection: other callers' statements may be
   * pipelined behind this one (a client sharing a busy connection). Such a statement must
   * leave no transaction block open; if it does (a raw `BEGIN`), it fails with `PgInputError`
   * and the connection is closed, which rolls the transaction back, so that no statement
   * pipelined behind it runs inside it unnoticed. Default false.
   */
  readonly shared?: boolean
}

/**
 * A statement prepared with {@link PgConnection.prepare}.
 *
 * @example
 * ```ts
 * import { PgConnection } from "@berth/pg"
 * import { Effect } from "effect"
 *
 * declare const conn: PgConnection.PgConnection
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const byId = yield* conn.prepare("select name from person where id = $1")
 *   const a = yield* byId.execute([1])
 *   const b = yield* byId.execute([2])
 *   console.log(byId.paramTypes, a.rows, b.rows) // [23] ...
 * }))
 * ```
 *
 * @since 0.1.0
 */
export interface PreparedStatement {
  readonly name: string
  readonly sql: string
  /** Parameter type OIDs, as the server resolved them. */
  readonly paramTypes: ReadonlyArray<number>
  /** The result columns, with the format each is read in. */
  readonly fields: ReadonlyArray<Field>
  readonly execute: {
    (
      params: ReadonlyArray<unknown> | undefined,
      options: QueryOptions & { readonly rowMode: "array" }
    ): Effect.Effect<QueryResult<ReadonlyArray<unknown>>, PgError>
    (params?: ReadonlyArray<unknown>, options?: QueryOptions): Effect.Effect<QueryResult, PgError>
  }
}

/**
 * One statement of {@link PgConnection.batch}.
 *
 * @example
 * ```ts
 * import type { PgConnection } from "@berth/pg"
 *
 * const debit: PgConnection.BatchStatement = { sql: "update account set balance = balance - $1 where id = $2", params: [10, 1] }
 * ```
 *
 * @since 0.1.0
 */
export interface BatchStatement {
  readonly sql: string
  readonly params?: ReadonlyArray<unknown>
}

/**
 * Options of {@link PgConnection.stream}.
 *
 * @example
 * ```ts
 * import { PgConnection } from "@berth/pg"
 * import { Stream } from "effect"
 *
 * declare const conn: PgConnection.PgConnection
 * const ids = conn.stream("select g from generate_series(1, 1000000) g", [], { fetchSize: 5000 }).pipe(
 *   Stream.map((row) => row.g as number)
 * )
 * ```
 *
 * @since 0.1.0
 */
export interface StreamOptions extends QueryOptions {
  /** Rows per Execute (default 1000): the memory bound, and the round trips, of the stream. */
  readonly fetchSize?: number
}

/**
 * A NoticeResponse (warnings, `RAISE NOTICE`, ...).
 *
 * @example
 * ```ts
 * import { PgConfig, PgConnection } from "@berth/pg"
 *
 * const conn = PgConnection.connect(PgConfig.make({}), {
 *   onNotice: (n: PgConnection.Notice) => console.log(n.severity, n.message)
 * })
 * ```
 *
 * @since 0.1.0
 */
export type Notice = ServerErrorFields

/**
 * A NotificationResponse (`NOTIFY`).
 *
 * @example
 * ```ts
 * import { PgConfig, PgConnection } from "@berth/pg"
 *
 * const conn = PgConnection.connect(PgConfig.make({}), {
 *   onNotification: (n: PgConnection.Notification) => console.log(n.channel, n.payload)
 * })
 * ```
 *
 * @since 0.1.0
 */
export interface Notification {
  readonly pid: number
  readonly channel: string
  readonly payload: string
}

/**
 * The transaction status reported by the last ReadyForQuery.
 *
 * @example
 * ```ts
 * import type { PgConnection } from "@berth/pg"
 *
 * const reusable = (conn: PgConnection.PgConnection) => !conn.isBroken && conn.transactionStatus === "idle"
 * ```
 *
 * @since 0.1.0
 */
export type TransactionStatus = "idle" | "transaction" | "failed"

/**
 * An open connection. Statements issued concurrently are queued and run one after another.
 *
 * @example
 * ```ts
 * import { PgConfig, PgConnection } from "@berth/pg"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const config = yield* PgConfig.parse("postgres://postgres@127.0.0.1:5432/postgres")
 *   const conn = yield* PgConnection.connect(config)
 *   const result = yield* conn.query("select $1::int + 1 as n", [41])
 *   console.log(result.rows[0]) // { n: 42 }
 * }))
 * ```
 *
 * @since 0.1.0
 */
export interface PgConnection {
  /**
   * Extended query protocol: one statement, parameters always bound. With `rowMode: "array"`
   * the rows are arrays in column order.
   */
  readonly query: {
    (
      sql: string,
      params: ReadonlyArray<unknown> | undefined,
      options: QueryOptions & { readonly rowMode: "array" }
    ): Effect.Effect<QueryResult<ReadonlyArray<unknown>>, PgError>
    (sql: string, params?: ReadonlyArray<unknown>, options?: QueryOptions): Effect.Effect<QueryResult, PgError>
  }
  /**
   * The rows of one statement as a pull-based Stream over a portal: `fetchSize` rows per
   * round trip (default 1000), the next chunk requested only when the consumer took the last
   * one. The stream holds the connection until it ends (other calls queue behind it) and runs in
   * one implicit transaction when no transaction block is open. Ending early (take, interruption,
   * a downstream failure) closes the portal — cancelling an Execute in flight — and leaves the
   * connection reusable; a server or decode error fails the stream.
   */
  readonly stream: {
    (
      sql: string,
      params: ReadonlyArray<unknown> | undefined,
      options: StreamOptions & { readonly rowMode: "array" }
    ): Stream.Stream<ReadonlyArray<unknown>, PgError>
    (
      sql: string,
      params?: ReadonlyArray<unknown>,
      options?: StreamOptions
    ): Stream.Stream<Record<string, unknown>, PgError>
  }
  /**
   * `LISTEN channel` as a Stream of that channel's notifications, emitting from the moment the
   * LISTEN is acknowledged. Subscribers are independent (each has its own unbounded buffer); the
   * last one to end sends `UNLISTEN`. The stream fails when the connection is lost. The channel
   * name is quoted as an identifier: `listen("Jobs")` listens to `Jobs`, case kept.
   */
  readonly listen: (channel: string) => Stream.Stream<Notification, PgError>
  /** `pg_notify(channel, payload)`, the payload bound as a parameter. */
  readonly notify: (channel: string, payload?: string) => Effect.Effect<void, PgError>
  /**
   * `COPY ... FROM STDIN` as a Sink of bytes (in the COPY's format: see `PgCopy.rowsSink` for
   * rows); the result is the number of rows copied. Elements are sent without copying, so do not
   * change a buffer after emitting it; the producer waits while the socket's buffer is full. The
   * Sink fails as soon as the server fails the COPY, even while the producer is idle. An early
   * end sends CopyFail: nothing is copied and the connection stays usable.
   */
  readonly copyFrom: (sql: string) => Sink.Sink<number, Uint8Array, never, PgError>
  /**
   * `COPY ... TO STDOUT` as a Stream of bytes (one CopyData payload per element, a row in text
   * and CSV format). Reading stops when more than `highWaterMark` bytes (default 1 MiB) wait for
   * the consumer. An early end cancels the COPY; the connection stays usable.
   */
  readonly copyTo: (sql: string, options?: { readonly highWaterMark?: number }) => Stream.Stream<Uint8Array, PgError>
  /**
   * Several statements in one write and one round trip, atomically: one Sync at the end, so they
   * share one implicit transaction (or the open transaction block). The first error skips the
   * rest and fails the batch. Statements use the unnamed statement (text results).
   */
  readonly batch: (statements: ReadonlyArray<BatchStatement>) => Effect.Effect<ReadonlyArray<QueryResult>, PgError>
  /**
   * Several statements in one write and one round trip, each in its own implicit transaction (a
   * Sync after every statement): an error is confined to its statement, every statement gets its
   * own outcome. Fails only when the connection does.
   */
  readonly batchSettled: (
    statements: ReadonlyArray<BatchStatement>
  ) => Effect.Effect<ReadonlyArray<Either.Either<QueryResult, PgError>>, PgError>
  /**
   * An explicitly prepared (named) statement, closed on the server when the scope closes. Its
   * `execute` is Bind/Execute/Sync only, with binary columns where the registry prefers them.
   * `paramTypes` fixes parameter type OIDs (0 or missing: inferred by the server).
   */
  readonly prepare: (
    sql: string,
    options?: { readonly paramTypes?: ReadonlyArray<number> }
  ) => Effect.Effect<PreparedStatement, PgError, Scope.Scope>
  /** Simple query protocol: a script of one or more statements, no parameters; one result each. */
  readonly simpleQuery: (
    sql: string,
    options?: { readonly shared?: boolean }
  ) => Effect.Effect<ReadonlyArray<QueryResult>, PgError>
  /** From the last ReadyForQuery. */
  readonly transactionStatus: TransactionStatus
  /**
   * Resolves once no statement, cancel or drain is in flight. Bounded by the cancel timeout: a
   * connection still busy after it is destroyed (reported by `isBroken`), never handed on.
   */
  readonly awaitReady: Effect.Effect<void>
  /**
   * Statements of this connection not yet answered: queued plus on the wire (pipelined). A
   * scheduler spreading work over connections picks the one with the fewest.
   */
  readonly pending: number
  /** Socket closed, desynchronised, or an interrupted statement not confirmed finished. */
  readonly isBroken: boolean
  readonly backendPid: number
  /** ParameterStatus values (server_version, TimeZone, ...), kept up to date. */
  readonly parameters: ReadonlyMap<string, string>
  /** The host this connection reached. */
  readonly host: HostPort
  /** Whether the connection is encrypted. */
  readonly tls: boolean
  /** Sends Terminate and closes the socket (also done when the scope closes). */
  readonly close: Effect.Effect<void>
}

/**
 * Options of {@link connect}.
 *
 * @example
 * ```ts
 * import { PgConfig, PgConnection, PgTypes } from "@berth/pg"
 *
 * const conn = PgConnection.connect(PgConfig.make({}), {
 *   types: PgTypes.make({ int8: "string" }),
 *   cancelTimeout: "2 seconds"
 * })
 * ```
 *
 * @since 0.1.0
 */
export interface ConnectOptions {
  /** Type codecs (default: the built-in registry). */
  readonly types?: PgTypes.TypeRegistry
  readonly onNotice?: (notice: Notice) => void
  readonly onNotification?: (notification: Notification) => void
  /**
   * How long an interrupted statement may take to be confirmed finished (its ReadyForQuery
   * and the server closing the cancel connection) before the connection is destroyed.
   * Default 5 seconds.
   */
  readonly cancelTimeout?: Duration.DurationInput
  /** Largest server message accepted, default 1 GiB + 1 MiB (PostgreSQL's field limit). */
  readonly maxMessageBytes?: number
  /**
   * The automatic prepared-statement cache of `query`: a capacity (named statements, LRU,
   * default 256), or `"unnamed"` to use only the unnamed statement — needed behind PgBouncer in
   * transaction pooling mode, where the next statement may reach another server session. With
   * the cache, a statement's first execution is Parse/Describe/Bind/Execute and later ones
   * Bind/Execute only, with binary results for the columns whose codec prefers binary.
   */
  readonly statementCache?: number | "unnamed"
  /**
   * How many statements of concurrent callers may be on the wire at once (default 100). Each
   * ends in its own Sync, so an error stays with its statement. `1` turns pipelining off: each
   * statement waits for the previous one's ReadyForQuery. Portals and COPY always run alone.
   * An interrupted statement is cancelled on the server only when nothing was sent after it;
   * otherwise it is abandoned (it runs to completion and its outcome is dropped) — see
   * docs/performance.md.
   */
  readonly pipeline?: number
}

const DEFAULT_STATEMENT_CACHE = 256
const DEFAULT_PIPELINE = 100
const DEFAULT_FETCH_SIZE = 1000

const DEFAULT_CONNECT_TIMEOUT = Duration.seconds(30)
const DEFAULT_CANCEL_TIMEOUT = Duration.seconds(5)

const nulError = (sql: string) => new PgInputError({ message: "the statement text contains a NUL byte", sql })

/** Encodes the parameters (input errors surface before anything is queued). */
const encodeParams = (
  registry: PgTypes.TypeRegistry,
  sql: string,
  params: ReadonlyArray<unknown>
): Array<PgTypes.EncodedParam> | PgInputError => {
  if (sql.includes("\0")) return nulError(sql)
  const n = params.length
  if (n > 65535) {
    return new PgInputError({ message: `too many parameters: ${n} (the protocol allows at most 65535)`, sql })
  }
  const encoded: Array<PgTypes.EncodedParam> = new Array(n)
  for (let i = 0; i < n; i++) {
    try {
      encoded[i] = registry.encodeParam(params[i])
    } catch (e) {
      // the value itself is never quoted: it may be a secret
      return new PgInputError({
        message: `cannot encode parameter $${i + 1}: ${e instanceof Error ? e.message : String(e)}`,
        sql
      })
    }
  }
  return encoded
}

/**
 * Parse/Bind/Describe/Execute for the unnamed statement, every column in text; then Sync, or for
 * a stream (`fetchSize` > 0) a row-limited Execute and Flush.
 */
const unnamedPlan = (
  core: Core,
  sql: string,
  encoded: ReadonlyArray<PgTypes.EncodedParam>,
  fetchSize = 0
): Plan | PgInputError => {
  const w = core.writer
  try {
    const n = encoded.length
    w.begin(Frontend.Parse).cstring("").cstring(sql).int16(n)
    for (let i = 0; i < n; i++) w.uint32(encoded[i]!.oid)
    w.end()
    writeBind(w, "", encoded, undefined)
    w.begin(Frontend.Describe).int8(0x50 /* P */).cstring("").end()
    w.begin(Frontend.Execute).cstring("").int32(fetchSize).end()
    if (fetchSize > 0) w.begin(Frontend.Flush).end()
    else w.begin(Frontend.Sync).end()
  } catch (e) {
    // a message beyond 2 GiB cannot be framed (PostgreSQL's own limit is 1 GiB)
    w.reset()
    return new PgInputError({
      message: `the statement cannot be sent: ${e instanceof Error ? e.message : String(e)}`,
      sql
    })
  }
  return { _tag: "Fixed", payload: w.flush() }
}

/** A channel is an identifier: non-empty, no NUL, at most 63 bytes (NAMEDATALEN - 1). */
const channelError = (channel: string): PgInputError | undefined => {
  if (channel.length === 0 || channel.includes("\0") || Buffer.byteLength(channel) > 63) {
    return new PgInputError({
      message: "a channel name must be 1 to 63 bytes without NUL (PostgreSQL would truncate or refuse it)",
      sql: undefined
    })
  }
  return undefined
}

const quoteIdentifier = (name: string): string => `"${name.replaceAll("\"", "\"\"")}"`

class Connection implements PgConnection {
  constructor(
    readonly core: Core,
    readonly registry: PgTypes.TypeRegistry,
    readonly host: HostPort,
    readonly tls: boolean
  ) {}

  get transactionStatus(): TransactionStatus {
    return this.core.txStatus
  }
  get isBroken(): boolean {
    return this.core.phase === "closed"
  }
  get pending(): number {
    return this.core.pending
  }
  get backendPid(): number {
    return this.core.backendPid
  }
  get parameters(): ReadonlyMap<string, string> {
    return this.core.parameters
  }

  private run<A extends QueryResult | ReadonlyArray<QueryResult>>(
    sql: string,
    simple: boolean,
    arrayMode: boolean,
    shared: boolean,
    plan: () => Plan | PgInputError
  ): Effect.Effect<A, PgError> {
    const core = this.core
    const registry = this.registry
    return Effect.async<A, PgError>((resume) => {
      if (core.phase === "closed") {
        resume(Effect.fail(core.unusable()))
        return
      }
      const planned = plan()
      if (planned instanceof PgInputError) {
        resume(Effect.fail(planned))
        return
      }
      // the op resumes with a QueryResult (extended) or an array of them (simple)
      const op = new QueryOp(
        planned,
        sql,
        simple,
        arrayMode,
        registry,
        resume as (effect: Effect.Effect<unknown, PgError>) => void,
        core
      )
      op.shared = shared
      core.enqueue(op)
      return Effect.sync(() => core.interrupt(op))
    })
  }

  query: PgConnection["query"] = (
    sql: string,
    params: ReadonlyArray<unknown> = [],
    options?: QueryOptions
  ): Effect.Effect<never, PgError> =>
    // the row shape follows rowMode; the overloads of PgConnection["query"] say which
    this.run<never>(sql, false, options?.rowMode === "array", options?.shared === true, () => this.plan(sql, params))

  private plan(sql: string, params: ReadonlyArray<unknown>, fetchSize = 0): Plan | PgInputError {
    const encoded = encodeParams(this.registry, sql, params)
    if (encoded instanceof PgInputError) return encoded
    const cache = this.core.statements
    if (cache === undefined) return unnamedPlan(this.core, sql, encoded, fetchSize)
    return { _tag: "Cached", cache, params: encoded }
  }

  stream: PgConnection["stream"] = (
    sql: string,
    params: ReadonlyArray<unknown> = [],
    options?: StreamOptions
  ): Stream.Stream<never, PgError> => {
    const core = this.core
    const fetchSize = options?.fetchSize ?? DEFAULT_FETCH_SIZE
    const acquire = Effect.suspend((): Effect.Effect<PortalOp, PgError> => {
      if (!(Number.isSafeInteger(fetchSize) && fetchSize >= 1 && fetchSize <= 2147483647)) {
        return Effect.fail(new PgInputError({ message: `fetchSize must be a positive integer, got ${fetchSize}`, sql }))
      }
      if (core.phase === "closed") return Effect.fail(core.unusable())
      const plan = this.plan(sql, params, fetchSize)
      if (plan instanceof PgInputError) return Effect.fail(plan)
      const op = new PortalOp(plan, sql, options?.rowMode === "array", this.registry, core, fetchSize)
      core.enqueue(op)
      return Effect.succeed(op)
    })
    return Stream.unwrapScoped(
      Effect.map(
        Effect.acquireRelease(acquire, (op) => Effect.sync(() => op.release())),
        // the row shape follows rowMode; the overloads of PgConnection["stream"] say which
        (op) => Stream.repeatEffectChunkOption(op.pull as Effect.Effect<Chunk.Chunk<never>, Option.Option<PgError>>)
      )
    )
  }

  /** Subscribers per channel: LISTEN is sent by each, UNLISTEN by the last to leave. */
  private readonly channels = new Map<string, number>()

  listen = (channel: string): Stream.Stream<Notification, PgError> =>
    this.listenEvents(channel, undefined) as Stream.Stream<Notification, PgError>

  /**
   * The notifications of `channel`; with `marker`, it comes first, queued right after the
   * LISTEN is acknowledged and before any notification that follows it.
   */
  listenEvents<M>(channel: string, marker: M | undefined): Stream.Stream<Notification | M, PgError> {
    const invalid = channelError(channel)
    if (invalid !== undefined) return Stream.fail(invalid)
    const core = this.core
    const quoted = quoteIdentifier(channel)
    const register = Effect.map(Queue.unbounded<Take.Take<Notification | M, PgError>>(), (queue) => {
      const listener: Listener = {
        notify: (n) => {
          if (n.channel === channel) Queue.unsafeOffer(queue, Take.of(n))
        },
        fail: (e) => {
          Queue.unsafeOffer(queue, Take.fail(e))
        }
      }
      core.listeners.add(listener)
      this.channels.set(channel, (this.channels.get(channel) ?? 0) + 1)
      return { queue, listener }
    })
    const unregister = ({ listener, queue }: Effect.Effect.Success<typeof register>) =>
      Effect.suspend(() => {
        core.listeners.delete(listener)
        const left = (this.channels.get(channel) ?? 1) - 1
        if (left > 0) this.channels.set(channel, left)
        else this.channels.delete(channel)
        const unlisten = left === 0 && core.phase !== "closed"
          ? Effect.ignore(this.simpleQuery(`UNLISTEN ${quoted}`))
          : Effect.void
        return Effect.zipRight(unlisten, Queue.shutdown(queue))
      })
    return Stream.unwrapScoped(
      Effect.gen(this, function*() {
        const { queue } = yield* Effect.acquireRelease(register, unregister)
        // every subscriber waits for its own LISTEN (idempotent on the server) to be acknowledged
        yield* this.simpleQuery(`LISTEN ${quoted}`)
        if (marker !== undefined) {
          // ahead of every notification not yet delivered to the queue
          const pending = yield* Queue.takeAll(queue)
          yield* Queue.offerAll(queue, [Take.of<Notification | M>(marker), ...pending])
        }
        return Stream.flattenTake(Stream.fromQueue(queue))
      })
    )
  }

  notify = (channel: string, payload = ""): Effect.Effect<void, PgError> => {
    const invalid = channelError(channel)
    if (invalid !== undefined) return Effect.fail(invalid)
    return Effect.asVoid(this.query("select pg_catalog.pg_notify($1::text, $2::text)", [channel, payload]))
  }

  copyFrom = (sql: string): Sink.Sink<number, Uint8Array, never, PgError> => {
    const core = this.core
    const acquire = Effect.suspend((): Effect.Effect<CopyInOp, PgError> => {
      if (sql.includes("\0")) return Effect.fail(nulError(sql))
      if (core.phase === "closed") return Effect.fail(core.unusable())
      const op = new CopyInOp(sql, this.registry, core)
      core.enqueue(op)
      return Effect.succeed(op)
    })
    return Sink.unwrapScoped(
      Effect.gen(function*() {
        const op = yield* Effect.acquireRelease(acquire, (op) => Effect.sync(() => op.release()))
        yield* op.ready
        // fails as soon as the op does, even while the producer is idle
        return op.sink
      })
    )
  }

  copyTo = (sql: string, options?: { readonly highWaterMark?: number }): Stream.Stream<Uint8Array, PgError> => {
    const core = this.core
    const acquire = Effect.suspend((): Effect.Effect<CopyOutOp, PgError> => {
      if (sql.includes("\0")) return Effect.fail(nulError(sql))
      if (core.phase === "closed") return Effect.fail(core.unusable())
      const op = new CopyOutOp(sql, this.registry, core, options?.highWaterMark ?? 1024 * 1024)
      core.enqueue(op)
      return Effect.succeed(op)
    })
    return Stream.unwrapScoped(
      Effect.map(
        Effect.acquireRelease(acquire, (op) => Effect.sync(() => op.release())),
        (op) => Stream.repeatEffectChunkOption(op.pull)
      )
    )
  }

  private runBatch(
    statements: ReadonlyArray<BatchStatement>,
    atomic: boolean
  ): Effect.Effect<unknown, PgError> {
    const core = this.core
    const registry = this.registry
    return Effect.async<unknown, PgError>((resume) => {
      if (core.phase === "closed") return resume(Effect.fail(core.unusable()))
      const label = statements.map((s) => s.sql).join(";\n")
      const w = core.writer
      for (let i = 0; i < statements.length; i++) {
        const { params = [], sql } = statements[i]!
        const encoded = encodeParams(registry, sql, params)
        if (encoded instanceof PgInputError) {
          w.reset()
          return resume(Effect.fail(encoded))
        }
        try {
          w.begin(Frontend.Parse).cstring("").cstring(sql).int16(encoded.length)
          for (const p of encoded) w.uint32(p.oid)
          w.end()
          writeBind(w, "", encoded, undefined)
          w.begin(Frontend.Describe).int8(0x50 /* P */).cstring("").end()
          w.begin(Frontend.Execute).cstring("").int32(0).end()
          if (!atomic || i === statements.length - 1) w.begin(Frontend.Sync).end()
        } catch (e) {
          w.reset()
          return resume(Effect.fail(
            new PgInputError({
              message: `the batch cannot be sent: ${e instanceof Error ? e.message : String(e)}`,
              sql
            })
          ))
        }
      }
      const op = new BatchOp(
        { _tag: "Fixed", payload: w.flush() },
        label,
        statements.length,
        atomic,
        registry,
        resume,
        core
      )
      core.enqueue(op)
      return Effect.sync(() => core.interrupt(op))
    })
  }

  batch = (statements: ReadonlyArray<BatchStatement>): Effect.Effect<ReadonlyArray<QueryResult>, PgError> =>
    statements.length === 0
      ? Effect.succeed([])
      : (this.runBatch(statements, true) as Effect.Effect<ReadonlyArray<QueryResult>, PgError>)

  batchSettled = (
    statements: ReadonlyArray<BatchStatement>
  ): Effect.Effect<ReadonlyArray<Either.Either<QueryResult, PgError>>, PgError> =>
    statements.length === 0
      ? Effect.succeed([])
      : (this.runBatch(statements, false) as Effect.Effect<ReadonlyArray<Either.Either<QueryResult, PgError>>, PgError>)

  private preparedCount = 0

  prepare = (
    sql: string,
    options?: { readonly paramTypes?: ReadonlyArray<number> }
  ): Effect.Effect<PreparedStatement, PgError, Scope.Scope> => {
    const core = this.core
    const registry = this.registry
    const name = `berth_p${(++this.preparedCount).toString(36)}`
    const paramTypes = options?.paramTypes ?? []
    const parse = Effect.async<Description, PgError>((resume) => {
      if (sql.includes("\0")) return resume(Effect.fail(nulError(sql)))
      if (core.phase === "closed") return resume(Effect.fail(core.unusable()))
      const w = core.writer
      w.begin(Frontend.Parse).cstring(name).cstring(sql).int16(paramTypes.length)
      for (const oid of paramTypes) w.uint32(oid)
      w.end()
      w.begin(Frontend.Describe).int8(0x53 /* S */).cstring(name).end()
      w.begin(Frontend.Sync).end()
      const op = new PrepareOp(w.flush(), sql, registry, resume as (e: Effect.Effect<unknown, PgError>) => void, core)
      core.enqueue(op)
      return Effect.sync(() => core.interrupt(op))
    })
    const close = Effect.suspend(() =>
      core.phase === "closed" ? Effect.void : Effect.ignore(
        this.run(sql, true, false, false, () => ({
          _tag: "Fixed",
          payload: core.writer.begin(Frontend.Close).int8(0x53 /* S */).cstring(name).end().begin(Frontend.Sync).end()
            .flush()
        }))
      )
    )
    return Effect.map(Effect.acquireRelease(parse, () => close), (description): PreparedStatement => {
      const prepared = describe(name, description.fields, registry)
      const oids = description.paramOids
      const execute = (params: ReadonlyArray<unknown> = [], opts?: QueryOptions): Effect.Effect<never, PgError> =>
        this.run<never>(sql, false, opts?.rowMode === "array", opts?.shared === true, () => {
          const encoded = encodeParams(registry, sql, params)
          if (encoded instanceof PgInputError) return encoded
          for (let i = 0; i < encoded.length; i++) {
            // a binary value is only meaningful for the type it was encoded as
            const p = encoded[i]!
            if (p.format === 1 && oids[i] !== undefined && p.oid !== 0 && p.oid !== oids[i]) {
              return new PgInputError({
                message: `parameter $${i + 1} is binary ${
                  registry.typeName(p.oid) ?? p.oid
                } but the statement expects ${registry.typeName(oids[i]!) ?? oids[i]}`,
                sql
              })
            }
          }
          return { _tag: "Named", prepared, params: encoded }
        })
      return { name, sql, paramTypes: oids, fields: prepared.fields, execute: execute as PreparedStatement["execute"] }
    })
  }

  simpleQuery = (
    sql: string,
    options?: { readonly shared?: boolean }
  ): Effect.Effect<ReadonlyArray<QueryResult>, PgError> =>
    this.run<ReadonlyArray<QueryResult>>(sql, true, false, options?.shared === true, () => {
      if (sql.includes("\0")) return nulError(sql)
      return { _tag: "Fixed", payload: this.core.writer.begin(Frontend.Query).cstring(sql).end().flush() }
    })

  /**
   * One Effect, built once: it checks the state when it runs (not when it is built), so a
   * stored `awaitReady` is never stale; when nothing is in flight — the common case when a pool
   * checks a returned connection — it arms no timer and forks nothing.
   */
  readonly awaitReady: Effect.Effect<void> = Effect.suspend(() => {
    const core = this.core
    if (!core.busy || core.phase === "closed") return Effect.void
    const bound = Duration.toMillis(DEFAULT_CANCEL_TIMEOUT) + core.options.cancelTimeoutMillis
    return Effect.async<void>((resume) => {
      const cancel = core.whenReady(() => resume(Effect.void))
      return Effect.sync(cancel)
    }).pipe(
      Effect.timeout(Duration.millis(bound)),
      Effect.catchAll(() =>
        Effect.sync(() =>
          core.destroy(
            new PgTimeoutError({
              message: "the connection did not become ready in time",
              phase: "cancel",
              host: core.options.hostLabel
            })
          )
        )
      )
    )
  })

  get close(): Effect.Effect<void> {
    const core = this.core
    return Effect.async<void>((resume) => {
      core.terminate(1000, () => resume(Effect.void))
    })
  }
}

const shuffle = <A>(items: ReadonlyArray<A>): Array<A> => {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    const t = out[i]!
    out[i] = out[j]!
    out[j] = t
  }
  return out
}

type TlsAttempt = "no" | "try" | "must"

/** One attempt at one host: socket, TLS, startup. The core is destroyed unless it succeeds. */
const attempt = (
  config: PgConfig,
  hp: HostPort,
  password: Redacted.Redacted | undefined,
  options: ConnectOptions,
  tlsAttempt: TlsAttempt
): Effect.Effect<Connection, PgError> =>
  Effect.suspend(() => {
    let core: Core | undefined
    const label = hostLabel(hp)
    const run = Effect.gen(function*() {
      const tlsOpts = tlsAttempt === "no" ? undefined : yield* tlsOptions(config, hp)
      const socket = yield* openSocket(config, hp)
      const stream = tlsOpts === undefined ? socket : yield* negotiateTls(socket, tlsOpts, hp, tlsAttempt === "must")
      const secure = stream !== socket ? (stream as tls.TLSSocket) : undefined
      core = new Core(stream, {
        onNotice: options.onNotice,
        onNotification: options.onNotification,
        cancelTimeoutMillis: Duration.toMillis(Duration.decode(options.cancelTimeout ?? DEFAULT_CANCEL_TIMEOUT)),
        hostLabel: label,
        cancelTarget: hp,
        maxMessageBytes: options.maxMessageBytes ?? (1024 + 1) * 1024 * 1024,
        pipelineDepth: options.pipeline ?? DEFAULT_PIPELINE
      })
      const capacity = options.statementCache ?? DEFAULT_STATEMENT_CACHE
      if (capacity !== "unnamed") core.statements = new StatementCache(capacity)
      core.attach(stream)
      yield* startup(core, config, password, secure)
      return new Connection(core, options.types ?? PgTypes.defaultRegistry, hp, secure !== undefined)
    })
    const timeout = config.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT
    const bounded = Duration.isFinite(timeout)
      ? Effect.timeoutFail(run, {
        duration: timeout,
        onTimeout: () =>
          new PgTimeoutError({
            message: `timed out connecting to ${label} after ${Duration.format(timeout)}`,
            phase: "connect",
            host: label
          })
      })
      : run
    return Effect.onExit(bounded, (exit) =>
      Exit.isSuccess(exit) ? Effect.void : Effect.sync(() =>
        core?.destroy(
          new PgConnectionError({
            message: "connection attempt abandoned",
            phase: "connect",
            host: label,
            cause: undefined
          })
        )
      ))
  })

const isHbaRejection = (e: PgError): boolean => isServerError(e) && e.code === "28000"

/** libpq's sslmode fallbacks for one host. */
const attemptHost = (
  config: PgConfig,
  hp: HostPort,
  password: Redacted.Redacted | undefined,
  options: ConnectOptions
): Effect.Effect<Connection, PgError> => {
  switch (config.sslmode) {
    case "disable":
      return attempt(config, hp, password, options, "no")
    case "allow":
      return attempt(config, hp, password, options, "no").pipe(
        Effect.catchIf(isHbaRejection, () => attempt(config, hp, password, options, "must"))
      )
    case "prefer":
      return attempt(config, hp, password, options, "try").pipe(
        Effect.catchIf(
          (e): e is PgConnectionError => e._tag === "PgConnectionError" && e.phase === "tls",
          () => attempt(config, hp, password, options, "no")
        )
      )
    default:
      return attempt(config, hp, password, options, "must")
  }
}

type SessionCheck = "any" | "read-write" | "read-only" | "primary" | "standby"

const sessionMatches = (conn: Connection, check: SessionCheck): Effect.Effect<boolean, PgError> => {
  if (check === "any") return Effect.succeed(true)
  const params = conn.parameters
  if (check === "primary" || check === "standby") {
    const hot = params.get("in_hot_standby")
    const standby = hot !== undefined
      ? Effect.succeed(hot === "on")
      : Effect.map(conn.query("select pg_catalog.pg_is_in_recovery() as r"), (r) => r.rows[0]?.r === true)
    return Effect.map(standby, (s) => (check === "standby" ? s : !s))
  }
  const dtro = params.get("default_transaction_read_only")
  const hot = params.get("in_hot_standby")
  const readOnly = dtro !== undefined && hot !== undefined
    ? Effect.succeed(dtro === "on" || hot === "on")
    : Effect.map(conn.simpleQuery("show transaction_read_only"), (r) => r[0]?.rows[0]?.transaction_read_only === "on")
  return Effect.map(readOnly, (ro) => (check === "read-only" ? ro : !ro))
}

/**
 * Opens a connection: tries each host of `config` in order (TLS per `sslmode`, authentication,
 * `target_session_attrs`), each attempt bounded by `connectTimeout` (default 30 s). The
 * connection lives until the surrounding scope closes, which sends Terminate.
 *
 * Interrupting a statement's fiber cancels it on the server (CancelRequest on a side socket)
 * and drains the connection in the background; the caller returns at once.
 *
 * @example
 * ```ts
 * import { PgConfig, PgConnection } from "@berth/pg"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const conn = yield* PgConnection.connect(PgConfig.make({ host: "127.0.0.1", user: "postgres" }))
 *   const [created, inserted] = yield* conn.simpleQuery("create temp table t (x int); insert into t values (1), (2)")
 *   console.log(created?.command, inserted?.rowCount) // "CREATE TABLE" 2
 *   // Effect.timeout interrupts the statement, which cancels it on the server
 *   yield* conn.query("select pg_sleep(10)").pipe(Effect.timeout("100 millis"), Effect.ignore)
 * }))
 * ```
 *
 * @since 0.1.0
 */
export const connect = (
  config: PgConfig,
  options: ConnectOptions = {}
): Effect.Effect<PgConnection, PgError, Scope.Scope> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const conn = yield* restore(
        connectAny(config, options).pipe(
          Effect.tap((c) =>
            Effect.annotateCurrentSpan({
              "server.address": c.host.host,
              "server.port": c.host.port,
              "db.postgresql.backend_pid": c.backendPid,
              "tls": c.tls
            })
          ),
          // never the password: only where and as whom
          Effect.withSpan("pg.connect", {
            kind: "client",
            attributes: {
              "db.system.name": "postgresql",
              "db.namespace": config.database,
              "db.user": config.user,
              "db.postgresql.hosts": config.hosts.map((h) => `${h.host}:${h.port}`).join(",")
            }
          })
        )
      )
      yield* Effect.addFinalizer(() => conn.close)
      return conn as PgConnection
    })
  )

const connectAny = (config: PgConfig, options: ConnectOptions): Effect.Effect<Connection, PgError> =>
  Effect.gen(function*() {
    const capacity = options.statementCache
    if (capacity !== undefined && capacity !== "unnamed" && !(Number.isSafeInteger(capacity) && capacity >= 1)) {
      return yield* Effect.fail(
        new PgInputError({
          message: `statementCache must be a positive integer or "unnamed", got ${String(capacity)}`,
          sql: undefined
        })
      )
    }
    const depth = options.pipeline
    if (depth !== undefined && !(Number.isSafeInteger(depth) && depth >= 1)) {
      return yield* Effect.fail(
        new PgInputError({ message: `pipeline must be a positive integer, got ${String(depth)}`, sql: undefined })
      )
    }
    const password = config.password === undefined
      ? undefined
      : Effect.isEffect(config.password)
      ? yield* config.password
      : config.password
    const hosts = config.loadBalanceHosts === "random" ? shuffle(config.hosts) : config.hosts
    const passes: ReadonlyArray<SessionCheck> = config.targetSessionAttrs === "prefer-standby"
      ? ["standby", "any"]
      : [config.targetSessionAttrs]
    const errors: Array<PgError> = []
    for (const check of passes) {
      for (const hp of hosts) {
        const exit = yield* Effect.exit(
          Effect.flatMap(attemptHost(config, hp, password, options), (conn) =>
            Effect.flatMap(
              Effect.onError(sessionMatches(conn, check), () => conn.close),
              (ok) =>
                ok ? Effect.succeed(conn) : Effect.zipRight(
                  conn.close,
                  Effect.fail(
                    new PgConnectionError({
                      message: `${hostLabel(hp)} does not satisfy target_session_attrs=${config.targetSessionAttrs}`,
                      phase: "connect",
                      host: hostLabel(hp),
                      cause: undefined
                    })
                  )
                )
            ))
        )
        if (Exit.isSuccess(exit)) return exit.value
        const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
        if (failure === undefined) return yield* Effect.failCause(exit.cause)
        errors.push(failure)
      }
    }
    if (errors.length === 1) return yield* Effect.fail(errors[0]!)
    return yield* Effect.fail(
      new PgConnectionError({
        message: `could not connect to any host: ${errors.map((e) => e.message).join("; ")}`,
        phase: "connect",
        host: undefined,
        cause: errors
      })
    )
  })

/**
 * Whether an error is the server's answer to a cancel (SQLSTATE 57014).
 *
 * @example
 * ```ts
 * import { PgConnection, PgError } from "@berth/pg"
 *
 * declare const e: PgError.PgError
 * if (PgConnection.isCanceled(e)) console.log("statement canceled")
 * ```
 *
 * @since 0.1.0
 */
export const isCanceled = (e: PgError): e is PgServerError => isServerError(e) && e.code === "57014"

/**
 * Encodes rows in COPY text format (tab-separated, `\N` for NULL, backslash escapes), one row per
 * line, with the values encoded like query parameters by `types` (default registry). Feed the
 * result to {@link PgConnection.copyFrom} of a `COPY ... FROM STDIN` (default text format).
 *
 * @example
 * ```ts
 * import { PgConnection } from "@berth/pg"
 * import { Effect, Stream } from "effect"
 *
 * declare const conn: PgConnection.PgConnection
 * const rows = Stream.make([1, "a\tb", null], [2, "line\nbreak", new Date()])
 * const copied = rows.pipe(
 *   Stream.map((row) => PgConnection.copyTextRow(row)),
 *   Stream.run(conn.copyFrom("copy items (id, name, at) from stdin"))
 * ) // Effect<number, PgError>: 2
 * ```
 *
 * @since 0.1.0
 */
export const copyTextRow = (
  row: ReadonlyArray<unknown>,
  types: PgTypes.TypeRegistry = PgTypes.defaultRegistry
): Uint8Array => {
  // the same encoder as PgCopy's text format, for one row
  const out = new CopyOut(256)
  textRow(types)(row, out)
  return out.take() ?? new Uint8Array(0)
}

/**
 * An event of {@link listenResilient}: `Listening` each time LISTEN is acknowledged (with
 * `reconnected: true` after a reconnection — notifications sent while it was down are lost), or a
 * notification.
 *
 * @example
 * ```ts
 * import type { PgConnection } from "@berth/pg"
 *
 * const describe = (e: PgConnection.ListenEvent) =>
 *   e._tag === "Listening" ? (e.reconnected ? "gap: resynchronise" : "listening") : e.notification.payload
 * ```
 *
 * @since 0.1.0
 */
export type ListenEvent =
  | { readonly _tag: "Listening"; readonly reconnected: boolean }
  | { readonly _tag: "Notification"; readonly notification: Notification }

const defaultListenSchedule: Schedule.Schedule<unknown, PgError> = Schedule.intersect(
  Schedule.exponential("100 millis"),
  Schedule.recurs(8)
)

/**
 * LISTEN on a dedicated connection that reconnects: when the connection is lost, a new one is
 * opened and LISTEN sent again, paced by `schedule` (default: exponential from 100 ms, 8 tries;
 * reset by every event that gets through), and a `Listening` event with `reconnected: true`
 * tells the consumer a gap may have occurred. Fails when the schedule is exhausted or with any
 * other error than a lost connection.
 *
 * @example
 * ```ts
 * import { PgConfig, PgConnection } from "@berth/pg"
 * import { Effect, Stream } from "effect"
 *
 * const jobs = PgConnection.listenResilient(PgConfig.make({ host: "127.0.0.1" }), "jobs").pipe(
 *   Stream.runForEach((e) =>
 *     e._tag === "Notification" ? Effect.log(e.notification.payload) : Effect.log("listening", e.reconnected)
 *   )
 * )
 * ```
 *
 * @since 0.1.0
 */
export const listenResilient = (
  config: PgConfig,
  channel: string,
  options: {
    readonly schedule?: Schedule.Schedule<unknown, PgError>
    readonly connectOptions?: ConnectOptions
  } = {}
): Stream.Stream<ListenEvent, PgError> =>
  Stream.suspend(() => {
    let attempts = 0
    const once = Stream.unwrapScoped(
      Effect.map(connect(config, options.connectOptions), (conn) => {
        const marker: ListenEvent = { _tag: "Listening", reconnected: attempts++ > 0 }
        return Stream.map(
          (conn as Connection).listenEvents(channel, marker),
          (e): ListenEvent => ("_tag" in e ? e : { _tag: "Notification", notification: e })
        )
      })
    )
    const schedule = Schedule.whileInput(
      options.schedule ?? defaultListenSchedule,
      (e: PgError) => e._tag === "PgConnectionError"
    )
    return Stream.retry(once, schedule)
  })
