/**
 * The migration commands: `up`, `down`, `goto`, `status`, `version`, `validate`,
 * `force`, `repair` and `baseline`, as Effects that run on any `@effect/sql`
 * `SqlClient` connected to PostgreSQL, and `layer`, which migrates (or verifies) before
 * the rest of an application starts.
 *
 * Every command that changes something runs under a session-level advisory lock on one
 * pinned connection, so concurrent runners (replicas starting together) serialize, and
 * accepts `dryRun` to return the SQL it would send instead of sending it.
 *
 * @since 0.1.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Clock, type Duration, Effect, Layer } from "effect"
import type * as Execute from "./internal/execute.js"
import * as History from "./internal/history.js"
import * as Plan from "./internal/plan.js"
import * as Runner from "./internal/runner.js"
import {
  ChecksumMismatch,
  ConfigError,
  type LockHolder,
  type MigrateError,
  NotUpToDate,
  UnknownVersion
} from "./MigrateError.js"
import * as Migration from "./Migration.js"
import type { MigrationSource } from "./MigrationSource.js"

/**
 * Options shared by every command.
 *
 * @example
 * ```ts
 * import { Migrator, MigrationSource } from "@berth/migrate"
 *
 * const options: Migrator.Options = {
 *   source: MigrationSource.make([]),
 *   table: "ops.schema_history",
 *   lockTimeout: "30 seconds",
 *   allowOutOfOrder: false
 * }
 * ```
 *
 * @since 0.1.0
 */
export interface Options<R = never> {
  readonly source: MigrationSource<R>
  /** History table, `table` or `schema.table` (default `berth_migrations`, in the search path). */
  readonly table?: string | undefined
  /** How long to wait for another runner's lock (default 1 minute). */
  readonly lockTimeout?: Duration.DurationInput | undefined
  /** `false`: fail at once with `LockError` if another runner holds the lock (default `true`). */
  readonly wait?: boolean | undefined
  /** Apply pending migrations older than the newest applied one (default `false`: refuse). */
  readonly allowOutOfOrder?: boolean | undefined
  /** Refuse to run when applied migrations were edited (default `true`). */
  readonly validateChecksums?: boolean | undefined
  /** Compute and return the SQL, change nothing (default `false`). */
  readonly dryRun?: boolean | undefined
  /**
   * `lock_timeout` for each migration's statements: an `ALTER TABLE` that cannot get its
   * lock within this time fails (SQLSTATE 55P03) instead of queueing every query on that
   * table behind it. Default: the server's setting.
   */
  readonly tableLockTimeout?: Duration.DurationInput | undefined
  /** `statement_timeout` for each migration's statements. Default: the server's setting. */
  readonly statementTimeout?: Duration.DurationInput | undefined
  /** Recorded in `applied_by` (default `user@host` of this process). */
  readonly appliedBy?: string | undefined
  /** Progress; the default logs each event with `Effect.log`. */
  readonly onEvent?: ((event: Event) => Effect.Effect<void>) | undefined
}

/**
 * Progress of a command.
 *
 * @example
 * ```ts
 * import { Migrator } from "@berth/migrate"
 * import { Console, Effect } from "effect"
 *
 * const onEvent = (event: Migrator.Event): Effect.Effect<void> =>
 *   event._tag === "StepFinished" ? Console.log(`${event.step.migration.name}: ${event.durationMs} ms`) : Effect.void
 * ```
 *
 * @since 0.1.0
 */
export type Event =
  | { readonly _tag: "LockWaiting"; readonly holder: LockHolder | undefined }
  | { readonly _tag: "LockAcquired"; readonly waitedMillis: number }
  | Execute.StepEvent

/**
 * One step a command took (or, in a dry run, would take).
 *
 * @example
 * ```ts
 * import type { Migrator } from "@berth/migrate"
 *
 * const line = (s: Migrator.StepResult) => `${s.direction} ${s.version} ${s.name} ${s.durationMs ?? "-"} ms`
 * ```
 *
 * @since 0.1.0
 */
export interface StepResult {
  readonly version: number
  readonly name: string
  readonly direction: "up" | "down"
  readonly transactional: boolean
  /** `undefined` in a dry run. */
  readonly durationMs: number | undefined
}

/**
 * The outcome of `up`, `down` and `goto`.
 *
 * @example
 * ```ts
 * import type { Migrator } from "@berth/migrate"
 *
 * const summary = (r: Migrator.RunResult) => r.dryRun ? r.sql : `${r.from ?? "none"} -> ${r.to ?? "none"}`
 * ```
 *
 * @since 0.1.0
 */
export interface RunResult {
  readonly dryRun: boolean
  readonly steps: ReadonlyArray<StepResult>
  /** Highest applied version before and after. */
  readonly from: number | undefined
  readonly to: number | undefined
  /** The SQL script of a dry run (empty otherwise). */
  readonly sql: string
}

/**
 * The state of one version in `status`.
 *
 * @example
 * ```ts
 * import type { Migrator } from "@berth/migrate"
 *
 * const needsAttention = (e: Migrator.StatusEntry) => e.modified || e.outOfOrder || e.state === "failed"
 * ```
 *
 * @since 0.1.0
 */
export interface StatusEntry {
  readonly version: number
  readonly name: string
  readonly state: "applied" | "baseline" | "forced" | "pending" | "failed" | "running" | "missing"
  readonly modified: boolean
  readonly outOfOrder: boolean
  readonly appliedAt: Date | undefined
  readonly durationMs: number | undefined
  readonly appliedBy: string | undefined
  readonly error: string | undefined
}

/**
 * `status`: every version, and the summary a CI check needs.
 *
 * @example
 * ```ts
 * import type { Migrator } from "@berth/migrate"
 *
 * const upToDate = (r: Migrator.StatusReport) => r.pending.length === 0 && r.failed.length === 0
 * ```
 *
 * @since 0.1.0
 */
export interface StatusReport {
  readonly table: string
  readonly current: number | undefined
  readonly entries: ReadonlyArray<StatusEntry>
  readonly pending: ReadonlyArray<number>
  readonly outOfOrder: ReadonlyArray<number>
  readonly modified: ReadonlyArray<number>
  readonly missing: ReadonlyArray<number>
  readonly failed: ReadonlyArray<number>
}

/**
 * Logs an event with `Effect.log` (the default `onEvent`).
 *
 * @example
 * ```ts
 * import { Migrator } from "@berth/migrate"
 * import { Effect } from "effect"
 *
 * const onEvent = (event: Migrator.Event) => Effect.zipRight(Effect.logDebug(event._tag), Migrator.logEvent(event))
 * ```
 *
 * @since 0.1.0
 */
export const logEvent: (event: Event) => Effect.Effect<void> = Runner.logEvent

/**
 * Applies pending migrations in version order: all of them, or the first `count`.
 *
 * @example
 * ```ts
 * import { Migrator, MigrationSource } from "@berth/migrate"
 * import { NodeContext } from "@effect/platform-node"
 * import { PgClient } from "@effect/sql-pg"
 * import { Effect, Redacted } from "effect"
 *
 * const program = Migrator.up({ source: MigrationSource.fromDirectory("./migrations") }).pipe(
 *   Effect.tap((result) => Effect.log(`now at version ${result.to}`)),
 *   Effect.provide(PgClient.layer({ url: Redacted.make(process.env.DATABASE_URL ?? "") })),
 *   Effect.provide(NodeContext.layer)
 * )
 * ```
 *
 * @since 0.1.0
 */
export const up = <R = never>(
  options: Options<R>,
  count?: number
): Effect.Effect<RunResult, MigrateError | SqlError, SqlClient.SqlClient | R> =>
  Effect.zipRight(
    Runner.checkCount("count", count),
    Runner.runPlan(options, (status, _, rules) => Plan.up(status, count, rules))
  )

/**
 * Reverts the most recently applied migrations, newest first: one by default, `count`,
 * or `"all"`. Fails with `Irreversible` before doing anything if one of them has no down.
 *
 * @example
 * ```ts
 * import { Migrator, MigrationSource } from "@berth/migrate"
 *
 * const source = MigrationSource.fromFiles({
 *   "000001_t.up.sql": "create table t (id int)",
 *   "000001_t.down.sql": "drop table t"
 * })
 * const program = Migrator.down({ source }, "all")
 * ```
 *
 * @since 0.1.0
 */
export const down = <R = never>(
  options: Options<R>,
  count: number | "all" = 1
): Effect.Effect<RunResult, MigrateError | SqlError, SqlClient.SqlClient | R> =>
  Effect.zipRight(
    Runner.checkCount("count", count === "all" ? undefined : count),
    Runner.runPlan(options, (status, _, rules) => Plan.down(status, count === "all" ? undefined : count, rules))
  )

/**
 * Migrates up or down to exactly `version`: reverts applied migrations above it (newest
 * first), then applies pending ones up to it. `0` reverts everything.
 *
 * @example
 * ```ts
 * import { Migrator, MigrationSource } from "@berth/migrate"
 *
 * const program = Migrator.goto({ source: MigrationSource.fromDirectory("./migrations") }, 20240131093000)
 * ```
 *
 * @since 0.1.0
 */
export const goto = <R = never>(
  options: Options<R>,
  version: number
): Effect.Effect<RunResult, MigrateError | SqlError, SqlClient.SqlClient | R> =>
  Effect.zipRight(
    Number.isSafeInteger(version) && version >= 0
      ? Effect.void
      : Effect.fail(
        new ConfigError({ option: "version", message: `version must be a non-negative integer, got ${version}` })
      ),
    Runner.runPlan(options, (status, migrations, rules) => Plan.goto(status, migrations, version, rules))
  )

/**
 * Compares the source with the history: applied, pending, failed, missing (applied but
 * no longer in the source), modified (checksum changed) and out-of-order versions.
 * Read-only: takes no lock and creates nothing.
 *
 * @example
 * ```ts
 * import { Migrator, MigrationSource } from "@berth/migrate"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const report = yield* Migrator.status({ source: MigrationSource.fromDirectory("./migrations") })
 *   yield* Effect.log(`current ${report.current}, ${report.pending.length} pending`)
 * })
 * ```
 *
 * @since 0.1.0
 */
export const status = <R = never>(
  options: Options<R>
): Effect.Effect<StatusReport, MigrateError | SqlError, SqlClient.SqlClient | R> =>
  Effect.map(Runner.readStatus(options), ({ cfg, status }) => Runner.toReport(cfg.table, status))

/**
 * The highest applied version (`undefined` for an empty history) and whether a failed
 * state blocks further runs (golang-migrate's "dirty").
 *
 * @example
 * ```ts
 * import { Migrator, MigrationSource } from "@berth/migrate"
 *
 * const program = Migrator.version({ source: MigrationSource.make([]) })
 * ```
 *
 * @since 0.1.0
 */
export const version = <R = never>(
  options: Options<R>
): Effect.Effect<
  { readonly version: number | undefined; readonly failed: boolean },
  MigrateError | SqlError,
  SqlClient.SqlClient | R
> =>
  Effect.map(
    Runner.readStatus(options),
    ({ status }) => ({ version: status.current, failed: status.failed.length > 0 })
  )

/**
 * Checks the checksums of applied migrations against the source. Fails with
 * `ChecksumMismatch` listing every modified migration; succeeds with the number checked
 * and the versions applied but missing from the source.
 *
 * @example
 * ```ts
 * import { Migrator, MigrationSource } from "@berth/migrate"
 *
 * const program = Migrator.validate({ source: MigrationSource.fromDirectory("./migrations") })
 * ```
 *
 * @since 0.1.0
 */
export const validate = <R = never>(
  options: Options<R>
): Effect.Effect<
  { readonly checked: number; readonly missing: ReadonlyArray<number> },
  MigrateError | SqlError,
  SqlClient.SqlClient | R
> =>
  Effect.flatMap(Runner.readStatus(options), ({ status }) =>
    status.modified.length > 0
      ? Effect.fail(new ChecksumMismatch({ modified: status.modified }))
      : Effect.succeed({
        checked: status.entries.filter((e) => e.migration !== undefined && e.row?.checksum != null).length,
        missing: status.missing.map((r) => r.version)
      }))

/**
 * The outcome of `force`, `repair` and `baseline`: what was changed (or, in a dry run,
 * would be) and the SQL.
 *
 * @example
 * ```ts
 * import type { Migrator } from "@berth/migrate"
 *
 * const report = (r: Migrator.AdminResult) => r.changes.join("\n")
 * ```
 *
 * @since 0.1.0
 */
export interface AdminResult {
  readonly dryRun: boolean
  /** One line per change, for humans. */
  readonly changes: ReadonlyArray<string>
  readonly sql: string
}

/**
 * Marks `version` as applied (state `forced`) with the source's current checksum,
 * clearing a failed state on it: after you finished or repaired a failed migration by
 * hand, or to accept an edited file. `reason` is stored in the row's `note`.
 *
 * @example
 * ```ts
 * import { Migrator, MigrationSource } from "@berth/migrate"
 *
 * const program = Migrator.force({ source: MigrationSource.fromDirectory("./migrations") }, 3, "index built by hand")
 * ```
 *
 * @since 0.1.0
 */
export const force = <R = never>(
  options: Options<R>,
  version: number,
  reason?: string
): Effect.Effect<AdminResult, MigrateError | SqlError, SqlClient.SqlClient | R> =>
  Runner.admin(options, (cfg, migrations, rows) => {
    const migration = migrations.find((m) => m.version === version)
    if (migration === undefined) {
      return Effect.fail(new UnknownVersion({ version, reason: "no migration has this version" }))
    }
    const row = rows.find((r) => r.version === version)
    const was = row === undefined ? "not applied" : row.status
    return Effect.succeed([{
      change: `${Migration.label(migration)}: ${was} -> forced${
        row?.error?.message === undefined ? "" : ` (recorded error was: ${row.error.message})`
      }`,
      stmt: History.upsert(cfg.table, {
        version,
        name: migration.name,
        checksum: migration.checksum,
        transactional: migration.up.transactional,
        appliedBy: cfg.appliedBy,
        status: "forced",
        durationMs: null,
        error: null,
        note: reason ??
          `forced by ${cfg.appliedBy}${row?.error?.message === undefined ? "" : `; error was: ${row.error.message}`}`
      })
    }])
  })

/**
 * Clears failed states after a manual repair: a failed `up` row is removed (the
 * migration is pending again and will be retried), a failed `down` row goes back to
 * applied. With `acceptChecksums`, also records the current checksums of modified
 * migrations. Each change lists the recorded server error it clears.
 *
 * @example
 * ```ts
 * import { Migrator, MigrationSource } from "@berth/migrate"
 *
 * const program = Migrator.repair({ source: MigrationSource.fromDirectory("./migrations") })
 * ```
 *
 * @since 0.1.0
 */
export const repair = <R = never>(
  options: Options<R>,
  repairOptions?: { readonly acceptChecksums?: boolean | undefined }
): Effect.Effect<AdminResult, MigrateError | SqlError, SqlClient.SqlClient | R> =>
  Runner.admin(options, (cfg, migrations, rows) => {
    const changes: Array<{ change: string; stmt: History.Stmt }> = []
    for (const row of rows) {
      if (row.status !== "failed" && row.status !== "running") continue
      const reason = row.status === "running"
        ? "interrupted while running outside a transaction"
        : `failed: ${row.error?.message ?? "unknown error"}${
          row.error?.code === undefined ? "" : ` [${row.error.code}]`
        }`
      const direction = row.error?.direction ?? "up"
      changes.push(
        direction === "up"
          ? {
            change: `${Migration.label(row)}: cleared (${reason}); it is pending again`,
            stmt: History.remove(cfg.table, row.version)
          }
          : {
            change: `${Migration.label(row)}: back to applied (its down ${reason})`,
            stmt: History.setStatus(cfg.table, row.version, "applied", { error: null })
          }
      )
    }
    if (repairOptions?.acceptChecksums === true) {
      for (const m of Plan.status(migrations, rows).modified) {
        changes.push({
          change: `${Migration.label(m)}: checksum ${m.recorded.slice(0, 12)} -> ${m.current.slice(0, 12)}`,
          stmt: History.setChecksum(cfg.table, m.version, m.current, `checksum accepted by ${cfg.appliedBy}`)
        })
      }
    }
    return Effect.succeed(changes)
  })

/**
 * Adopts an existing database: records every migration up to `version` as applied
 * (state `baseline`, nothing is run), so `up` starts after it. If no migration has that
 * version, a marker row is recorded for it. Refused when the history is not empty.
 *
 * @example
 * ```ts
 * import { Migrator, MigrationSource } from "@berth/migrate"
 *
 * const program = Migrator.baseline({ source: MigrationSource.fromDirectory("./migrations") }, 12)
 * ```
 *
 * @since 0.1.0
 */
export const baseline = <R = never>(
  options: Options<R>,
  version: number,
  reason?: string
): Effect.Effect<AdminResult, MigrateError | SqlError, SqlClient.SqlClient | R> =>
  Runner.admin(options, (cfg, migrations, rows) => {
    if (!Number.isSafeInteger(version) || version <= 0) {
      return Effect.fail(
        new ConfigError({ option: "version", message: `version must be a positive integer, got ${version}` })
      )
    }
    if (rows.length > 0) {
      return Effect.fail(
        new ConfigError({
          option: "version",
          message: `the history table already has ${rows.length} row(s); baseline adopts a database without history`
        })
      )
    }
    const note = reason ?? `baseline ${version} by ${cfg.appliedBy}`
    const adopted = migrations.filter((m) => m.version <= version)
    const stmts = adopted.map((m) => ({
      change: `${Migration.label(m)}: baseline`,
      stmt: History.upsert(cfg.table, {
        version: m.version,
        name: m.name,
        checksum: m.checksum,
        transactional: m.up.transactional,
        appliedBy: cfg.appliedBy,
        status: "baseline",
        durationMs: null,
        error: null,
        note
      })
    }))
    if (!adopted.some((m) => m.version === version)) {
      stmts.push({
        change: `${Migration.label({ version, name: "baseline" })}: baseline marker`,
        stmt: History.upsert(cfg.table, {
          version,
          name: "baseline",
          checksum: undefined,
          transactional: true,
          appliedBy: cfg.appliedBy,
          status: "baseline",
          durationMs: null,
          error: null,
          note
        })
      })
    }
    return Effect.succeed(stmts)
  })

/**
 * Options of the startup layer.
 *
 * @example
 * ```ts
 * import { Migrator, MigrationSource } from "@berth/migrate"
 *
 * const options: Migrator.LayerOptions = { source: MigrationSource.make([]), mode: "verify" }
 * ```
 *
 * @since 0.1.0
 */
export interface LayerOptions<R = never> extends Options<R> {
  /** `"apply"` (default) migrates up; `"verify"` only checks and fails with `NotUpToDate`. */
  readonly mode?: "apply" | "verify" | undefined
}

/**
 * A Layer that migrates the database up (or only verifies it is up to date) when it is
 * built, so the rest of the application starts on the expected schema. Progress is
 * logged through `onEvent` (by default `Effect.log`). Several replicas starting at once
 * serialize on the migration lock; the later ones find nothing to do.
 *
 * @example
 * ```ts
 * import { Migrator, MigrationSource } from "@berth/migrate"
 * import { NodeContext } from "@effect/platform-node"
 * import { PgClient } from "@effect/sql-pg"
 * import { Config, Layer } from "effect"
 *
 * const Database = PgClient.layerConfig({ url: Config.redacted("DATABASE_URL") })
 *
 * const Migrated = Migrator.layer({ source: MigrationSource.fromDirectory("./migrations") }).pipe(
 *   Layer.provide(NodeContext.layer)
 * )
 *
 * // The application's layers depend on Migrated, so they start after the migrations ran.
 * const App = Layer.mergeAll(Database, Migrated.pipe(Layer.provide(Database)))
 * ```
 *
 * @since 0.1.0
 */
export const layer = <R = never>(
  options: LayerOptions<R>
): Layer.Layer<never, MigrateError | SqlError, SqlClient.SqlClient | R> =>
  Layer.effectDiscard(
    Effect.gen(function*() {
      const start = yield* Clock.currentTimeMillis
      if (options.mode === "verify") {
        const report = yield* status(options)
        const problems = [
          ...(report.failed.length > 0 ? [`failed: ${report.failed.join(", ")}`] : []),
          ...(report.modified.length > 0 ? [`modified: ${report.modified.join(", ")}`] : [])
        ]
        if (report.pending.length > 0 || problems.length > 0) {
          return yield* new NotUpToDate({ pending: report.pending, problems })
        }
        yield* Effect.logInfo(`database schema verified at version ${report.current ?? "none"}`)
        return
      }
      const result = yield* up(options)
      const took = (yield* Clock.currentTimeMillis) - start
      yield* Effect.logInfo(
        result.steps.length === 0
          ? `database schema up to date at version ${result.to ?? "none"}`
          : `applied ${result.steps.length} migration(s), now at version ${result.to} (${took} ms)`
      )
    })
  )
