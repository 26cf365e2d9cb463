/**
 * Human output of the CLI: short lines, colour only on a terminal (and never with
 * `NO_COLOR`).
 *
 * @internal
 */
import * as Migration from "../Migration.js"
import type * as Migrator from "../Migrator.js"

/** Colour functions (identity when colour is off). */
export interface Paint {
  readonly green: (s: string) => string
  readonly red: (s: string) => string
  readonly yellow: (s: string) => string
  readonly dim: (s: string) => string
  readonly bold: (s: string) => string
}

const code = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`

/** Colours on or off. */
export const paint = (enabled: boolean): Paint =>
  enabled
    ? { green: code(32, 39), red: code(31, 39), yellow: code(33, 39), dim: code(2, 22), bold: code(1, 22) }
    : { green: (s) => s, red: (s) => s, yellow: (s) => s, dim: (s) => s, bold: (s) => s }

/** Whether to colour stdout by default. */
export const colorByDefault = (): boolean =>
  process.env["NO_COLOR"] === undefined &&
  (process.env["FORCE_COLOR"] !== undefined && process.env["FORCE_COLOR"] !== "0" || process.stdout.isTTY === true)

const ms = (
  n: number | undefined
) => (n === undefined ? "" : n < 1000 ? `${Math.round(n)} ms` : `${(n / 1000).toFixed(2)} s`)

/** One progress line per event (undefined: nothing to print). */
export const event = (p: Paint, e: Migrator.Event): string | undefined => {
  switch (e._tag) {
    case "LockWaiting":
      return p.yellow(
        `… waiting for the migration lock${
          e.holder === undefined
            ? ""
            : ` (held by pid ${e.holder.pid}${e.holder.applicationName === "" ? "" : ` ${e.holder.applicationName}`})`
        }`
      )
    case "LockAcquired":
      return e.waitedMillis > 0 ? p.dim(`lock acquired after ${ms(e.waitedMillis)}`) : undefined
    case "StepStarted":
      return undefined
    case "StepFinished":
      return `${p.green(e.step.direction === "up" ? "↑" : "↓")} ${Migration.label(e.step.migration)} ${
        p.dim(ms(e.durationMs))
      }`
    case "StepFailed":
      return `${p.red("✗")} ${Migration.label(e.step.migration)} ${p.dim(ms(e.durationMs))}`
  }
}

/** The summary of up/down/goto. */
export const run = (p: Paint, verb: string, r: Migrator.RunResult): string => {
  if (r.dryRun) {
    const head = `-- dry run: ${verb} would run ${r.steps.length} migration(s), version ${r.from ?? "none"} -> ${
      r.to ?? "none"
    }`
    return r.steps.length === 0 ? head : `${head}\n${r.sql}`
  }
  if (r.steps.length === 0) return p.dim(`nothing to do (version ${r.from ?? "none"})`)
  const total = r.steps.reduce((sum, s) => sum + (s.durationMs ?? 0), 0)
  return p.bold(
    `${verb}: ${r.steps.length} migration(s), version ${r.from ?? "none"} -> ${r.to ?? "none"} (${ms(total)})`
  )
}

const stateMark = (p: Paint, e: Migrator.StatusEntry): string => {
  if (e.modified) return p.red("~")
  switch (e.state) {
    case "applied":
    case "baseline":
    case "forced":
      return p.green("✓")
    case "pending":
      return e.outOfOrder ? p.yellow("!") : p.dim("·")
    case "failed":
    case "running":
      return p.red("✗")
    case "missing":
      return p.yellow("?")
  }
}

/** The status table and its summary. */
export const status = (p: Paint, r: Migrator.StatusReport): string => {
  const width = Math.max(0, ...r.entries.map((e) => Migration.label(e).length))
  const lines = r.entries.map((e) => {
    const notes = [
      e.state,
      ...(e.modified ? ["modified since applied"] : []),
      ...(e.outOfOrder ? ["out of order"] : []),
      ...(e.state === "missing" ? ["not in the source"] : [])
    ].join(", ")
    const when = e.appliedAt === undefined
      ? ""
      : p.dim(` ${e.appliedAt.toISOString()} ${ms(e.durationMs)} ${e.appliedBy ?? ""}`)
    const error = e.error === undefined ? "" : `\n    ${p.red(e.error)}`
    return `${stateMark(p, e)} ${Migration.label(e).padEnd(width)}  ${notes}${when}${error}`
  })
  const count = (n: number, what: string) => (n > 0 ? [`${n} ${what}`] : [])
  const applied =
    r.entries.filter((e) => e.state === "applied" || e.state === "baseline" || e.state === "forced").length
  const summary = [
    `${applied} applied`,
    ...count(r.pending.length, "pending"),
    ...count(r.outOfOrder.length, "out of order"),
    ...count(r.modified.length, "modified"),
    ...count(r.missing.length, "missing"),
    ...count(r.failed.length, "failed")
  ].join(", ")
  return [
    p.bold(`${r.table}: version ${r.current ?? "none"}`),
    ...lines,
    summary
  ].join("\n")
}
