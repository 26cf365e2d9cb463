/**
 * The typed errors of `@berth/migrate`. Connection and protocol failures stay
 * `@effect/sql`'s `SqlError`.
 *
 * @since 0.1.0
 */
import { Data } from "effect"

/**
 * One problem found while loading migrations.
 *
 * @example
 * ```ts
 * import type { MigrateError } from "@berth/migrate"
 *
 * const describe = (p: MigrateError.LoadProblem) => `${p.file}: [${p.kind}] ${p.message}`
 * ```
 *
 * @since 0.1.0
 */
export interface LoadProblem {
  readonly kind:
    | "missing-directory"
    | "read-failed"
    | "unparsable-name"
    | "invalid-version"
    | "duplicate-version"
    | "down-without-up"
    | "name-mismatch"
    | "transaction-control"
    | "unknown-directive"
    | "invalid-module"
  /** The file (or in-memory key) concerned. */
  readonly file: string
  readonly message: string
}

/**
 * Loading migrations failed; `problems` lists every problem found, not only the first.
 *
 * @example
 * ```ts
 * import { MigrateError, MigrationSource } from "@berth/migrate"
 * import { NodeContext } from "@effect/platform-node"
 * import { Effect } from "effect"
 *
 * const program = MigrationSource.fromDirectory("./migrations").pipe(
 *   Effect.catchTag("LoadError", (error: MigrateError.LoadError) =>
 *     Effect.logError(error.problems.map((p) => `${p.file}: ${p.message}`).join("\n"))),
 *   Effect.provide(NodeContext.layer)
 * )
 * ```
 *
 * @since 0.1.0
 */
export class LoadError extends Data.TaggedError("LoadError")<{
  readonly problems: ReadonlyArray<LoadProblem>
}> {
  override get message(): string {
    const lines = this.problems.map((p) => `  ${p.file}: ${p.message}`)
    return `${this.problems.length} problem(s) loading migrations:\n${lines.join("\n")}`
  }
}

/**
 * An option that makes no sense (a table name that is not an identifier, a negative
 * count, ...), reported before anything touches the database.
 *
 * @example
 * ```ts
 * import { Migrator, MigrationSource } from "@berth/migrate"
 * import { Effect } from "effect"
 *
 * // Fails with ConfigError { option: "table" } before any SQL is sent.
 * const program = Migrator.up({ source: MigrationSource.make([]), table: "no spaces allowed" }).pipe(
 *   Effect.catchTag("ConfigError", (e) => Effect.logError(`${e.option}: ${e.message}`))
 * )
 * ```
 *
 * @since 0.1.0
 */
export class ConfigError extends Data.TaggedError("ConfigError")<{
  readonly option: string
  readonly message: string
}> {}

/**
 * The session holding the migration lock, as `pg_stat_activity` shows it.
 *
 * @example
 * ```ts
 * import type { MigrateError } from "@berth/migrate"
 *
 * const who = (h: MigrateError.LockHolder) => `pid ${h.pid} (${h.applicationName}) since ${h.backendStart}`
 * ```
 *
 * @since 0.1.0
 */
export interface LockHolder {
  readonly pid: number
  readonly applicationName: string
  readonly clientAddr: string | null
  readonly backendStart: string | null
}

/**
 * The migration lock could not be taken: another runner holds it (`reason: "busy"` in
 * fail-fast mode) or it was not released within the lock timeout (`reason: "timeout"`).
 *
 * @example
 * ```ts
 * import { Migrator, MigrationSource } from "@berth/migrate"
 * import { Effect } from "effect"
 *
 * const program = Migrator.up({ source: MigrationSource.make([]), wait: false }).pipe(
 *   Effect.catchTag("LockError", (e) => Effect.logWarning(`skipped: ${e.message}`))
 * )
 * ```
 *
 * @since 0.1.0
 */
export class LockError extends Data.TaggedError("LockError")<{
  readonly reason: "busy" | "timeout"
  readonly waitedMillis: number
  readonly holder: LockHolder | undefined
}> {
  override get message(): string {
    const holder = this.holder === undefined
      ? ""
      : ` (held by pid ${this.holder.pid}${
        this.holder.applicationName === "" ? "" : ` "${this.holder.applicationName}"`
      }${this.holder.clientAddr === null ? "" : ` from ${this.holder.clientAddr}`})`
    return this.reason === "busy"
      ? `another migration is running${holder}`
      : `timed out after ${this.waitedMillis} ms waiting for the migration lock${holder}`
  }
}

/**
 * What PostgreSQL said when a migration failed (all fields the server sent that help a
 * human repair it; never parameter values).
 *
 * @example
 * ```ts
 * import type { MigrateError } from "@berth/migrate"
 *
 * const show = (e: MigrateError.ServerError) => `${e.code ?? "?"} ${e.message}${e.hint ? ` (hint: ${e.hint})` : ""}`
 * ```
 *
 * @since 0.1.0
 */
export interface ServerError {
  readonly message: string
  readonly code: string | undefined
  readonly detail: string | undefined
  readonly hint: string | undefined
  readonly position: string | undefined
  readonly where: string | undefined
  /** The statement that failed, for migrations run statement by statement. */
  readonly statement: string | undefined
}

/**
 * A migration failed. Its history row is now in the failed state with `error`.
 *
 * @example
 * ```ts
 * import { Migrator, MigrationSource } from "@berth/migrate"
 * import { Effect } from "effect"
 *
 * const program = Migrator.up({ source: MigrationSource.make([{ version: 1, name: "bad", up: "select nope" }]) }).pipe(
 *   Effect.catchTag("MigrationFailed", (e) => Effect.logError(`${e.version} failed with SQLSTATE ${e.error.code}`))
 * )
 * ```
 *
 * @since 0.1.0
 */
export class MigrationFailed extends Data.TaggedError("MigrationFailed")<{
  readonly version: number
  readonly name: string
  readonly direction: "up" | "down"
  readonly transactional: boolean
  readonly error: ServerError
  readonly cause: unknown
}> {
  override get message(): string {
    const code = this.error.code === undefined ? "" : ` [${this.error.code}]`
    const state = this.transactional
      ? "rolled back"
      : "ran outside a transaction and may be partially applied"
    return `migration ${this.version} ${this.name} (${this.direction}) failed${code}: ${this.error.message} (it ${state})`
  }
}

/**
 * A history row left in the failed (or interrupted) state.
 *
 * @example
 * ```ts
 * import type { MigrateError } from "@berth/migrate"
 *
 * const line = (row: MigrateError.FailedRow) => `${row.version} ${row.name}: ${row.error?.message ?? row.status}`
 * ```
 *
 * @since 0.1.0
 */
export interface FailedRow {
  readonly version: number
  readonly name: string
  readonly status: "failed" | "running"
  readonly error: ServerError | undefined
  readonly at: Date
}

/**
 * A previous run failed or was interrupted; nothing runs until `repair` or `force`.
 *
 * @example
 * ```ts
 * import { Migrator, MigrationSource } from "@berth/migrate"
 * import { Effect } from "effect"
 *
 * const program = Migrator.up({ source: MigrationSource.make([]) }).pipe(
 *   Effect.catchTag("FailedState", (e) => Effect.logError(e.message))
 * )
 * ```
 *
 * @since 0.1.0
 */
export class FailedState extends Data.TaggedError("FailedState")<{
  readonly failed: ReadonlyArray<FailedRow>
}> {
  override get message(): string {
    const [first] = this.failed
    if (first === undefined) return "the history is in a failed state"
    const what = first.status === "running"
      ? "was interrupted while running outside a transaction"
      : `failed: ${first.error?.message ?? "unknown error"}`
    return `migration ${first.version} ${first.name} ${what}; repair the database, then run \`repair\` (to retry it) or \`force ${first.version}\` (to mark it applied)`
  }
}

/**
 * Pending migrations older than the newest applied one (typically merged from a branch
 * after a newer migration shipped). Refused unless `allowOutOfOrder` is set.
 *
 * @example
 * ```ts
 * import { Migrator, MigrationSource } from "@berth/migrate"
 * import { Effect } from "effect"
 *
 * const options = { source: MigrationSource.make([]) }
 * // Reviewed: apply the late migrations anyway.
 * const program = Migrator.up(options).pipe(
 *   Effect.catchTag("OutOfOrder", () => Migrator.up({ ...options, allowOutOfOrder: true }))
 * )
 * ```
 *
 * @since 0.1.0
 */
export class OutOfOrder extends Data.TaggedError("OutOfOrder")<{
  readonly versions: ReadonlyArray<number>
  readonly latestApplied: number
}> {
  override get message(): string {
    return `pending migration(s) ${
      this.versions.join(", ")
    } are older than the latest applied ${this.latestApplied}; review them and rerun with allowOutOfOrder (--allow-out-of-order)`
  }
}

/**
 * One applied migration whose source no longer matches the recorded checksum.
 *
 * @example
 * ```ts
 * import type { MigrateError } from "@berth/migrate"
 *
 * const line = (m: MigrateError.Modified) => `${m.version} ${m.name}: ${m.recorded.slice(0, 8)} -> ${m.current.slice(0, 8)}`
 * ```
 *
 * @since 0.1.0
 */
export interface Modified {
  readonly version: number
  readonly name: string
  readonly recorded: string
  readonly current: string
}

/**
 * Applied migrations were edited after they ran.
 *
 * @example
 * ```ts
 * import { Migrator, MigrationSource } from "@berth/migrate"
 * import { Effect } from "effect"
 *
 * const program = Migrator.validate({ source: MigrationSource.make([]) }).pipe(
 *   Effect.catchTag("ChecksumMismatch", (e) => Effect.logError(e.modified.map((m) => m.name).join(", ")))
 * )
 * ```
 *
 * @since 0.1.0
 */
export class ChecksumMismatch extends Data.TaggedError("ChecksumMismatch")<{
  readonly modified: ReadonlyArray<Modified>
}> {
  override get message(): string {
    return `applied migration(s) changed since they ran: ${
      this.modified.map((m) => `${m.version} ${m.name}`).join(", ")
    } (restore them, or record the new checksums with \`force\`)`
  }
}

/**
 * A target version that no migration (or, for `down`, no source) has.
 *
 * @example
 * ```ts
 * import { Migrator, MigrationSource } from "@berth/migrate"
 * import { Effect } from "effect"
 *
 * const program = Migrator.goto({ source: MigrationSource.make([]) }, 42).pipe(
 *   Effect.catchTag("UnknownVersion", (e) => Effect.logError(e.message))
 * )
 * ```
 *
 * @since 0.1.0
 */
export class UnknownVersion extends Data.TaggedError("UnknownVersion")<{
  readonly version: number
  readonly reason: string
}> {
  override get message(): string {
    return `version ${this.version}: ${this.reason}`
  }
}

/**
 * Reverting would need a `down` that does not exist (no down body, or the migration is
 * no longer in the source).
 *
 * @example
 * ```ts
 * import { Migrator, MigrationSource } from "@berth/migrate"
 * import { Effect } from "effect"
 *
 * const program = Migrator.down({ source: MigrationSource.make([]) }, "all").pipe(
 *   Effect.catchTag("Irreversible", (e) => Effect.logError(`no down for ${e.versions.join(", ")}`))
 * )
 * ```
 *
 * @since 0.1.0
 */
export class Irreversible extends Data.TaggedError("Irreversible")<{
  readonly versions: ReadonlyArray<number>
  readonly reason: string
}> {
  override get message(): string {
    return `cannot revert ${this.versions.join(", ")}: ${this.reason}`
  }
}

/**
 * The verify-only startup check found the database not up to date.
 *
 * @example
 * ```ts
 * import { Migrator, MigrationSource } from "@berth/migrate"
 * import { Layer } from "effect"
 *
 * // Fails to build with NotUpToDate when migrations are pending.
 * const Verified = Migrator.layer({ source: MigrationSource.make([]), mode: "verify" }).pipe(Layer.orDie)
 * ```
 *
 * @since 0.1.0
 */
export class NotUpToDate extends Data.TaggedError("NotUpToDate")<{
  readonly pending: ReadonlyArray<number>
  readonly problems: ReadonlyArray<string>
}> {
  override get message(): string {
    const parts = [
      ...(this.pending.length > 0 ? [`${this.pending.length} pending migration(s): ${this.pending.join(", ")}`] : []),
      ...this.problems
    ]
    return `database schema is not up to date: ${parts.join("; ")}`
  }
}

/**
 * Every error a migration command can fail with (besides `SqlError`).
 *
 * @example
 * ```ts
 * import type { MigrateError } from "@berth/migrate"
 *
 * const exitCode = (e: MigrateError.MigrateError) => (e._tag === "LockError" ? 75 : 1)
 * ```
 *
 * @since 0.1.0
 */
export type MigrateError =
  | LoadError
  | ConfigError
  | LockError
  | MigrationFailed
  | FailedState
  | OutOfOrder
  | ChecksumMismatch
  | UnknownVersion
  | Irreversible
  | NotUpToDate
