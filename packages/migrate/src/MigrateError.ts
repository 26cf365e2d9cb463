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
 * @since 0.1.0
 */
export class ConfigError extends Data.TaggedError("ConfigError")<{
  readonly option: string
  readonly message: string
}> {}

/**
 * The session holding the migration lock, as `pg_stat_activity` shows it.
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
