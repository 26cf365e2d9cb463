/**
 * Running one step (a migration in one direction) on the pinned session, with its
 * history bookkeeping, or rendering the SQL it would send (dry run).
 *
 * Transactional step:      BEGIN; body; history write; COMMIT
 *                          on failure: ROLLBACK, then record the failed row
 * No-transaction step:     mark the row `running`; each statement on its own; mark it
 *                          applied (or delete it, for down); on failure mark it `failed`.
 *                          A crash leaves `running`, which blocks the next run like a failure.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Clock, Effect, Exit } from "effect"
import { MigrationFailed } from "../MigrateError.js"
import * as Migration from "../Migration.js"
import * as Errors from "./errors.js"
import * as History from "./history.js"
import type { Step } from "./plan.js"
import type { Session } from "./session.js"
import * as SqlText from "./sqlText.js"

/** What the step runner needs from the command. */
export interface Context {
  readonly session: Session
  readonly table: History.TableName
  readonly appliedBy: string
  /** Set while a BEGIN is open on the session, so the session's finalizer can roll back. */
  readonly transaction: { open: boolean }
  /** `name = value` settings applied around each migration (`SET LOCAL` in a transaction). */
  readonly settings: ReadonlyArray<string>
}

const setAll = (ctx: Context, local: boolean) =>
  Effect.forEach(ctx.settings, (s) => ctx.session.exec(`SET ${local ? "LOCAL " : ""}${s}`), { discard: true })

/** Progress of one step. */
export type StepEvent =
  | { readonly _tag: "StepStarted"; readonly step: Step; readonly transactional: boolean }
  | { readonly _tag: "StepFinished"; readonly step: Step; readonly durationMs: number }
  | { readonly _tag: "StepFailed"; readonly step: Step; readonly durationMs: number; readonly error: MigrationFailed }

const bodyOf = (step: Step): Migration.Body => step.direction === "up" ? step.migration.up : step.migration.down!

const fields = (ctx: Context, step: Step) => ({
  version: step.migration.version,
  name: step.migration.name,
  checksum: step.migration.checksum,
  transactional: bodyOf(step).transactional,
  appliedBy: ctx.appliedBy
})

/**
 * Runs an Effect body with every statement pinned to the session. In a transaction the
 * session is registered as the open transaction (depth 0), so a `withTransaction` inside
 * the migration becomes a savepoint. Outside one, depth -1 pins statements to the session
 * while a `withTransaction` inside still opens a real transaction (at depth 0) on it.
 */
const runEffect = (ctx: Context, body: Extract<Migration.Body, { _tag: "Effect" }>, transactional: boolean) =>
  Effect.provideService(body.effect, SqlClient.TransactionConnection, [ctx.session.conn, transactional ? 0 : -1])

/** Runs a no-transaction SQL body statement by statement; fails with the statement that failed. */
const runStatements = (ctx: Context, text: string) =>
  Effect.forEach(
    SqlText.split(text),
    (statement) =>
      ctx.session.exec(statement.text).pipe(
        Effect.mapError((error) => ({ error, statement: statement.text }))
      ),
    { discard: true }
  )

const failure = (step: Step, transactional: boolean, error: unknown, statement?: string) =>
  new MigrationFailed({
    version: step.migration.version,
    name: step.migration.name,
    direction: step.direction,
    transactional,
    error: Errors.serverError(error, statement),
    cause: error
  })

/**
 * Runs one step for real, then resets the session's settings so a `SET` in one migration
 * (a `search_path`, a `statement_timeout`) does not leak into the next.
 */
export const run = (
  ctx: Context,
  step: Step,
  onEvent: (event: StepEvent) => Effect.Effect<void>
): Effect.Effect<number, MigrationFailed | SqlError, SqlClient.SqlClient> =>
  Effect.zipLeft(runStep(ctx, step, onEvent), ctx.session.exec("RESET ALL"))

const runStep = (
  ctx: Context,
  step: Step,
  onEvent: (event: StepEvent) => Effect.Effect<void>
): Effect.Effect<number, MigrationFailed | SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const body = bodyOf(step)
    const t = ctx.table
    yield* onEvent({ _tag: "StepStarted", step, transactional: body.transactional })
    const start = yield* Clock.currentTimeMillis
    const elapsed = Effect.map(Clock.currentTimeMillis, (now) => now - start)
    const recordFailure = (error: MigrationFailed) =>
      Effect.gen(function*() {
        const recorded: History.RecordedError = { ...error.error, direction: step.direction }
        const durationMs = yield* elapsed
        yield* ctx.session.run(
          step.direction === "up" || !body.transactional
            ? History.upsert(t, { ...fields(ctx, step), status: "failed", durationMs, error: recorded, note: null })
            : History.setStatus(t, step.migration.version, "failed", { error: recorded })
        ).pipe(
          // The failure itself is what the caller must see; a lost connection here only
          // means the failed row could not be written.
          Effect.catchAll((e) => Effect.logWarning("could not record the failed migration", e))
        )
        yield* onEvent({ _tag: "StepFailed", step, durationMs, error })
        return yield* error
      })

    if (body.transactional) {
      // Marked before BEGIN: an interruption right after it must still roll back (a ROLLBACK
      // without a transaction is only a warning).
      ctx.transaction.open = true
      yield* ctx.session.exec("BEGIN")
      const exit = yield* Effect.exit(
        Effect.gen(function*() {
          yield* setAll(ctx, true).pipe(Effect.mapError((error) => failure(step, true, error)))
          if (body._tag === "Sql") {
            yield* ctx.session.exec(body.sql).pipe(Effect.mapError((error) => failure(step, true, error)))
          } else {
            yield* runEffect(ctx, body, true).pipe(
              Effect.catchAllCause((cause) => Effect.fail(failure(step, true, Errors.fromCause(cause))))
            )
          }
          const durationMs = yield* elapsed
          yield* ctx.session.run(
            step.direction === "up"
              ? History.upsert(t, { ...fields(ctx, step), status: "applied", durationMs, error: null, note: null })
              : History.remove(t, step.migration.version)
          ).pipe(Effect.mapError((error) => failure(step, true, error)))
          // A failed COMMIT (a deferred constraint, a serialization failure) is a failed
          // migration like any other: the server has rolled everything back.
          yield* ctx.session.exec("COMMIT").pipe(Effect.mapError((error) => failure(step, true, error)))
          ctx.transaction.open = false
          return durationMs
        })
      )
      if (Exit.isSuccess(exit)) {
        yield* onEvent({ _tag: "StepFinished", step, durationMs: exit.value })
        return exit.value
      }
      yield* ctx.session.exec("ROLLBACK").pipe(Effect.ignore)
      ctx.transaction.open = false
      const error = Errors.fromCause(exit.cause)
      return yield* recordFailure(error instanceof MigrationFailed ? error : failure(step, true, error))
    }

    // Outside a transaction: the row says `running` first, so a crash is visible.
    yield* ctx.session.run(
      step.direction === "up"
        ? History.upsert(t, {
          ...fields(ctx, step),
          status: "running",
          durationMs: null,
          error: { direction: "up" },
          note: null
        })
        : History.setStatus(t, step.migration.version, "running", { error: { direction: "down" } })
    )
    const exit = yield* Effect.exit(
      Effect.zipRight(
        setAll(ctx, false).pipe(Effect.mapError((error) => failure(step, false, error))),
        body._tag === "Sql"
          ? runStatements(ctx, body.sql).pipe(Effect.mapError((e) => failure(step, false, e.error, e.statement)))
          : runEffect(ctx, body, false).pipe(
            Effect.catchAllCause((cause) => Effect.fail(failure(step, false, Errors.fromCause(cause))))
          )
      )
    )
    if (Exit.isFailure(exit)) {
      const error = Errors.fromCause(exit.cause)
      return yield* recordFailure(error instanceof MigrationFailed ? error : failure(step, false, error))
    }
    const durationMs = yield* elapsed
    yield* ctx.session.run(
      step.direction === "up"
        ? History.setStatus(t, step.migration.version, "applied", { durationMs, error: null })
        : History.remove(t, step.migration.version)
    )
    yield* onEvent({ _tag: "StepFinished", step, durationMs })
    return durationMs
  })

/** The SQL a step would send, as a script (dry run). */
export const render = (
  table: History.TableName,
  appliedBy: string,
  settings: ReadonlyArray<string>,
  step: Step
): string => {
  const body = bodyOf(step)
  const f = {
    version: step.migration.version,
    name: step.migration.name,
    checksum: step.migration.checksum,
    transactional: body.transactional,
    appliedBy
  }
  const header = `-- ${Migration.label(step.migration)} (${step.direction}${
    body.transactional ? "" : ", no transaction"
  })`
  const text = body._tag === "Sql"
    ? body.sql.trim()
    : `-- TypeScript migration ${step.migration.origin}: its statements are only known when the Effect runs`
  const terminated = (sql: string) => {
    const bare = SqlText.stripComments(sql).trim()
    return bare === "" || bare.endsWith(";") ? sql : `${sql};`
  }
  if (body.transactional) {
    const write = step.direction === "up"
      ? History.upsert(table, { ...f, status: "applied", durationMs: null, error: null, note: null })
      : History.remove(table, step.migration.version)
    return [
      header,
      "BEGIN;",
      ...settings.map((x) => `SET LOCAL ${x};`),
      terminated(text),
      `${History.render(write)};`,
      "COMMIT;"
    ].filter((l) => l !== "").join(
      "\n"
    )
  }
  const mark = step.direction === "up"
    ? History.upsert(table, { ...f, status: "running", durationMs: null, error: { direction: "up" }, note: null })
    : History.setStatus(table, step.migration.version, "running", { error: { direction: "down" } })
  const statements = body._tag === "Sql" ? SqlText.split(body.sql).map((s) => `${s.text};`) : [text]
  const done = step.direction === "up"
    ? History.setStatus(table, step.migration.version, "applied", { durationMs: null, error: null })
    : History.remove(table, step.migration.version)
  return [
    header,
    `${History.render(mark)};`,
    ...settings.map((x) => `SET ${x};`),
    ...statements,
    `${History.render(done)};`,
    ...(settings.length > 0 ? ["RESET ALL;"] : [])
  ].join("\n")
}
