/**
 * What every command shares: resolving options, reading the history, the pinned and
 * locked session, and running a plan (for real or as a dry run).
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Duration, Effect, type Either } from "effect"
import * as os from "node:os"
import { ConfigError, type MigrateError } from "../MigrateError.js"
import * as Migration from "../Migration.js"
import type { AdminResult, Event, Options, RunResult, StatusReport, StepResult } from "../Migrator.js"
import * as Execute from "./execute.js"
import * as History from "./history.js"
import * as Lock from "./lock.js"
import * as Plan from "./plan.js"
import * as Session from "./session.js"

/** Options after validation and defaults. */
export interface Resolved {
  readonly table: History.TableName
  readonly lockTimeout: Duration.Duration
  readonly wait: boolean
  readonly rules: Plan.Rules
  readonly dryRun: boolean
  readonly appliedBy: string
  readonly settings: ReadonlyArray<string>
  readonly onEvent: (event: Event) => Effect.Effect<void>
}

const defaultAppliedBy = (): string => {
  try {
    return `${os.userInfo().username}@${os.hostname()}`
  } catch {
    return `pid ${process.pid}@${os.hostname()}`
  }
}

/** The default `onEvent`: one log line per event. */
export const logEvent = (event: Event): Effect.Effect<void> => {
  switch (event._tag) {
    case "LockWaiting":
      return Effect.logInfo(
        `waiting for the migration lock${event.holder === undefined ? "" : ` held by pid ${event.holder.pid}`}`
      )
    case "LockAcquired":
      return event.waitedMillis > 0
        ? Effect.logInfo(`migration lock acquired after ${event.waitedMillis} ms`)
        : Effect.void
    case "StepStarted":
      return Effect.logDebug(`${event.step.direction} ${Migration.label(event.step.migration)}`)
    case "StepFinished":
      return Effect.logInfo(
        `${event.step.direction === "up" ? "applied" : "reverted"} ${
          Migration.label(event.step.migration)
        } (${event.durationMs} ms)`
      ).pipe(Effect.annotateLogs({ version: event.step.migration.version, duration_ms: event.durationMs }))
    case "StepFailed":
      return Effect.logError(event.error.message)
  }
}

export const resolve = <R>(options: Options<R>): Effect.Effect<Resolved, ConfigError> =>
  Effect.gen(function*() {
    const table = yield* History.parseTableName(options.table ?? "berth_migrations")
    const lockTimeout = Duration.decodeUnknown(options.lockTimeout ?? Duration.minutes(1))
    if (lockTimeout._tag === "None" || !Duration.isFinite(lockTimeout.value)) {
      return yield* new ConfigError({ option: "lockTimeout", message: "lockTimeout must be a finite duration" })
    }
    const settings: Array<string> = []
    for (
      const [option, setting, value] of [
        ["tableLockTimeout", "lock_timeout", options.tableLockTimeout],
        ["statementTimeout", "statement_timeout", options.statementTimeout]
      ] as const
    ) {
      if (value === undefined) continue
      const d = Duration.decodeUnknown(value)
      if (d._tag === "None" || !Duration.isFinite(d.value) || Duration.toMillis(d.value) < 1) {
        return yield* new ConfigError({ option, message: `${option} must be a finite duration of at least 1 ms` })
      }
      settings.push(`${setting} = ${Math.round(Duration.toMillis(d.value))}`)
    }
    return {
      table,
      settings,
      lockTimeout: lockTimeout.value,
      wait: options.wait ?? true,
      rules: {
        allowOutOfOrder: options.allowOutOfOrder ?? false,
        validateChecksums: options.validateChecksums ?? true
      },
      dryRun: options.dryRun ?? false,
      appliedBy: options.appliedBy ?? defaultAppliedBy(),
      onEvent: options.onEvent ?? logEvent
    }
  })

export const readRows = (session: Session.Session, table: History.TableName) =>
  Effect.gen(function*() {
    const [exists] = yield* session.run(History.exists(table))
    if (exists?.["exists"] !== true) return { exists: false, rows: [] as ReadonlyArray<History.Row> }
    const rows = yield* session.run(History.select(table))
    return { exists: true, rows: rows.map(History.decode) }
  })

/**
 * Pins an unqualified table name to the schema it resolves to now, so a migration that
 * changes `search_path` cannot redirect the history writes, and `berth_migrations` and
 * `public.berth_migrations` (the same table) share one lock.
 */
export const qualifyTable = (session: Session.Session, table: History.TableName) =>
  table.schema !== undefined
    ? Effect.succeed(table)
    : Effect.map(
      session.run({ text: "SELECT current_schema() AS schema", params: [] }),
      (rows) => History.qualify(table, String(rows[0]?.["schema"] ?? "public"))
    )

/** Reserves a connection for the duration of `f`. */
export const withSession = <A, E, R>(f: (session: Session.Session) => Effect.Effect<A, E, R>) =>
  Effect.scoped(
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const conn = yield* sql.reserve
      return yield* f(Session.make(conn))
    })
  )

/**
 * Reserves a connection, takes the migration lock on it, makes sure the history table
 * exists and hands the rows to `f`. The lock is released (and an open transaction rolled
 * back) however `f` ends.
 */
export const locked = <A, E, R>(
  cfg: Resolved,
  f: (ctx: Execute.Context, rows: ReadonlyArray<History.Row>) => Effect.Effect<A, E, R>
) =>
  withSession((session) =>
    Effect.gen(function*() {
      const table = yield* qualifyTable(session, cfg.table)
      const lockKey = Lock.key(table.display)
      const ctx: Execute.Context = {
        session,
        table,
        appliedBy: cfg.appliedBy,
        transaction: { open: false },
        settings: cfg.settings
      }
      // Not acquireRelease: its acquire step is uninterruptible, and waiting for the lock
      // (up to lockTimeout) must not be.
      const held = { value: false }
      yield* Effect.addFinalizer(() =>
        Effect.gen(function*() {
          if (ctx.transaction.open) yield* session.exec("ROLLBACK").pipe(Effect.ignore)
          if (held.value) yield* Lock.release(session, lockKey).pipe(Effect.ignore)
          // The connection goes back to the pool without the settings migrations made.
          yield* session.exec("RESET ALL").pipe(Effect.ignore)
        })
      )
      const waited = yield* Lock.acquire(session, lockKey, {
        wait: cfg.wait,
        timeout: cfg.lockTimeout,
        held,
        onWait: (holder) => cfg.onEvent({ _tag: "LockWaiting", holder })
      })
      yield* cfg.onEvent({ _tag: "LockAcquired", waitedMillis: waited })
      // Created only when missing (under the lock, so runners do not race): `IF NOT EXISTS`
      // alone would still need CREATE privileges on every run.
      const { exists, rows } = yield* readRows(session, table)
      if (!exists) { for (const stmt of History.create(table)) yield* session.run(stmt) }
      return yield* f(ctx, rows)
    })
  )

export type Planner = (
  status: Plan.Status,
  migrations: ReadonlyArray<Migration.Migration>,
  rules: Plan.Rules
) => Either.Either<ReadonlyArray<Plan.Step>, MigrateError>

export const stepResult = (step: Plan.Step, durationMs: number | undefined): StepResult => ({
  version: step.migration.version,
  name: step.migration.name,
  direction: step.direction,
  transactional: (step.direction === "up" ? step.migration.up : step.migration.down!).transactional,
  durationMs
})

export const afterSteps = (status: Plan.Status, steps: ReadonlyArray<Plan.Step>) => {
  const applied = new Set(
    status.entries.filter((e) =>
      e.state === "applied" || e.state === "baseline" || e.state === "forced" || e.state === "missing"
    )
      .map((e) => e.version)
  )
  for (const step of steps) {
    if (step.direction === "up") applied.add(step.migration.version)
    else applied.delete(step.migration.version)
  }
  return applied.size === 0 ? undefined : Math.max(...applied)
}

export const runPlan = <R>(options: Options<R>, planner: Planner) =>
  Effect.gen(function*() {
    const cfg = yield* resolve(options)
    const migrations = yield* options.source
    if (cfg.dryRun) {
      // A dry run reads the history without the lock and without creating anything.
      return yield* withSession((session) =>
        Effect.gen(function*() {
          const { exists, rows } = yield* readRows(session, cfg.table)
          const status = Plan.status(migrations, rows)
          const steps = yield* planner(status, migrations, cfg.rules)
          const script = [
            ...(exists ? [] : History.create(cfg.table).map((s) => `${History.render(s)};`)),
            ...steps.map((step) => Execute.render(cfg.table, cfg.appliedBy, cfg.settings, step))
          ]
          return {
            dryRun: true,
            steps: steps.map((s) => stepResult(s, undefined)),
            from: status.current,
            to: afterSteps(status, steps),
            sql: script.join("\n\n")
          } satisfies RunResult
        })
      )
    }
    return yield* locked(cfg, (ctx, rows) =>
      Effect.gen(function*() {
        const status = Plan.status(migrations, rows)
        const steps = yield* planner(status, migrations, cfg.rules)
        const results: Array<StepResult> = []
        for (const step of steps) {
          const durationMs = yield* Execute.run(ctx, step, cfg.onEvent)
          results.push(stepResult(step, durationMs))
        }
        return {
          dryRun: false,
          steps: results,
          from: status.current,
          to: afterSteps(status, steps),
          sql: ""
        } satisfies RunResult
      }))
  })

export const checkCount = (option: string, n: number | undefined): Effect.Effect<void, ConfigError> =>
  n === undefined || (Number.isSafeInteger(n) && n > 0)
    ? Effect.void
    : Effect.fail(new ConfigError({ option, message: `${option} must be a positive integer, got ${n}` }))

export const toReport = (table: History.TableName, status: Plan.Status): StatusReport => ({
  table: table.display,
  current: status.current,
  entries: status.entries.map((e) => ({
    version: e.version,
    name: e.name,
    state: e.state,
    modified: e.modified,
    outOfOrder: e.outOfOrder,
    appliedAt: e.row?.appliedAt,
    durationMs: e.row?.durationMs ?? undefined,
    appliedBy: e.row?.appliedBy,
    error: e.row?.error?.message ??
      (e.state === "running" ? "interrupted while running outside a transaction" : undefined)
  })),
  pending: status.pending.map((m) => m.version),
  outOfOrder: status.outOfOrder.map((m) => m.version),
  modified: status.modified.map((m) => m.version),
  missing: status.missing.map((r) => r.version),
  failed: status.failed.map((r) => r.version)
})

export const readStatus = <R>(options: Options<R>) =>
  Effect.gen(function*() {
    const cfg = yield* resolve(options)
    const migrations = yield* options.source
    const { rows } = yield* withSession((session) => readRows(session, cfg.table))
    return { cfg, migrations, rows, status: Plan.status(migrations, rows) }
  })

export const admin = <R>(
  options: Options<R>,
  plan: (
    cfg: Resolved,
    migrations: ReadonlyArray<Migration.Migration>,
    rows: ReadonlyArray<History.Row>
  ) => Effect.Effect<ReadonlyArray<{ readonly change: string; readonly stmt: History.Stmt }>, MigrateError>
) =>
  Effect.gen(function*() {
    const cfg = yield* resolve(options)
    const migrations = yield* options.source
    const build = (rows: ReadonlyArray<History.Row>, table: History.TableName = cfg.table) =>
      plan({ ...cfg, table }, migrations, rows)
    if (cfg.dryRun) {
      return yield* withSession((session) =>
        Effect.gen(function*() {
          const { exists, rows } = yield* readRows(session, cfg.table)
          const changes = yield* build(rows)
          const sql = [
            ...(exists ? [] : History.create(cfg.table)),
            ...changes.map((c) => c.stmt)
          ].map((s) => `${History.render(s)};`).join("\n")
          return { dryRun: true, changes: changes.map((c) => c.change), sql } satisfies AdminResult
        })
      )
    }
    return yield* locked(cfg, (ctx, rows) =>
      Effect.gen(function*() {
        const changes = yield* build(rows, ctx.table)
        if (changes.length > 0) {
          // Marked before BEGIN: an interruption right after it must still roll back (a ROLLBACK
          // without a transaction is only a warning).
          ctx.transaction.open = true
          yield* ctx.session.exec("BEGIN")
          for (const c of changes) yield* ctx.session.run(c.stmt)
          yield* ctx.session.exec("COMMIT")
          ctx.transaction.open = false
        }
        return {
          dryRun: false,
          changes: changes.map((c) => c.change),
          sql: changes.map((c) => `${History.render(c.stmt)};`).join("\n")
        } satisfies AdminResult
      }))
  })
