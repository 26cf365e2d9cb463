/**
 * Pure comparison of the source with the history: the status report and the list of
 * steps each command would take. No I/O here, so every rule is testable on its own.
 *
 * @internal
 */
import { Either } from "effect"
import {
  ChecksumMismatch,
  FailedState,
  Irreversible,
  type Modified,
  OutOfOrder,
  UnknownVersion
} from "../MigrateError.js"
import type * as Migration from "../Migration.js"
import type * as History from "./history.js"

/** What the database and the source say about one version. */
export interface Entry {
  readonly version: number
  readonly name: string
  /** `missing`: recorded as applied but absent from the source. */
  readonly state: "applied" | "baseline" | "forced" | "pending" | "failed" | "running" | "missing"
  readonly modified: boolean
  readonly outOfOrder: boolean
  readonly migration: Migration.Migration | undefined
  readonly row: History.Row | undefined
}

/** The full comparison. */
export interface Status {
  readonly entries: ReadonlyArray<Entry>
  /** Highest applied version (applied, baseline or forced), if any. */
  readonly current: number | undefined
  readonly pending: ReadonlyArray<Migration.Migration>
  readonly outOfOrder: ReadonlyArray<Migration.Migration>
  readonly modified: ReadonlyArray<Modified>
  readonly missing: ReadonlyArray<History.Row>
  readonly failed: ReadonlyArray<History.Row>
}

const isApplied = (row: History.Row): boolean =>
  row.status === "applied" || row.status === "baseline" || row.status === "forced"

/** Compares the source with the history rows. */
export const status = (
  migrations: ReadonlyArray<Migration.Migration>,
  rows: ReadonlyArray<History.Row>
): Status => {
  const byVersion = new Map(rows.map((r) => [r.version, r]))
  const source = new Map(migrations.map((m) => [m.version, m]))
  const appliedVersions = rows.filter(isApplied).map((r) => r.version)
  const current = appliedVersions.length === 0 ? undefined : Math.max(...appliedVersions)
  const entries: Array<Entry> = []
  const pending: Array<Migration.Migration> = []
  const outOfOrder: Array<Migration.Migration> = []
  const modified: Array<Modified> = []
  for (const m of migrations) {
    const row = byVersion.get(m.version)
    if (row === undefined) {
      const late = current !== undefined && m.version < current
      pending.push(m)
      if (late) outOfOrder.push(m)
      entries.push({
        version: m.version,
        name: m.name,
        state: "pending",
        modified: false,
        outOfOrder: late,
        migration: m,
        row
      })
      continue
    }
    const changed = isApplied(row) && row.checksum !== null && m.checksum !== undefined && row.checksum !== m.checksum
    if (changed) modified.push({ version: m.version, name: m.name, recorded: row.checksum!, current: m.checksum! })
    entries.push({
      version: m.version,
      name: m.name,
      state: row.status,
      modified: changed,
      outOfOrder: false,
      migration: m,
      row
    })
  }
  const missing: Array<History.Row> = []
  for (const row of rows) {
    if (source.has(row.version)) continue
    // A baseline row for a version without a file marks "everything up to here existed".
    if (row.status === "baseline") {
      entries.push({
        version: row.version,
        name: row.name,
        state: "baseline",
        modified: false,
        outOfOrder: false,
        migration: undefined,
        row
      })
      continue
    }
    if (isApplied(row)) missing.push(row)
    entries.push({
      version: row.version,
      name: row.name,
      state: isApplied(row) ? "missing" : row.status,
      modified: false,
      outOfOrder: false,
      migration: undefined,
      row
    })
  }
  entries.sort((a, b) => a.version - b.version)
  const failed = rows.filter((r) => r.status === "failed" || r.status === "running")
  return { entries, current, pending, outOfOrder, modified, missing, failed }
}

/** One step of a plan. */
export interface Step {
  readonly direction: "up" | "down"
  readonly migration: Migration.Migration
}

/** Rules shared by every command that runs migrations. */
export interface Rules {
  readonly allowOutOfOrder: boolean
  readonly validateChecksums: boolean
}

type PlanError = FailedState | ChecksumMismatch | OutOfOrder | Irreversible | UnknownVersion

const gate = (s: Status, rules: Rules): Either.Either<void, PlanError> => {
  if (s.failed.length > 0) {
    return Either.left(
      new FailedState({
        failed: s.failed.map((r) => ({
          version: r.version,
          name: r.name,
          status: r.status as "failed" | "running",
          error: r.error === null ? undefined : {
            message: r.error.message ?? "unknown error",
            code: r.error.code,
            detail: r.error.detail,
            hint: r.error.hint,
            position: r.error.position,
            where: r.error.where,
            statement: r.error.statement
          },
          at: r.appliedAt
        }))
      })
    )
  }
  if (rules.validateChecksums && s.modified.length > 0) {
    return Either.left(new ChecksumMismatch({ modified: s.modified }))
  }
  return Either.right(undefined)
}

const applyPending = (
  pending: ReadonlyArray<Migration.Migration>,
  latestApplied: number | undefined,
  rules: Rules
): Either.Either<Array<Step>, PlanError> => {
  const late = latestApplied === undefined ? [] : pending.filter((m) => m.version < latestApplied)
  if (late.length > 0 && !rules.allowOutOfOrder) {
    return Either.left(new OutOfOrder({ versions: late.map((m) => m.version), latestApplied: latestApplied! }))
  }
  return Either.right(pending.map((migration) => ({ direction: "up" as const, migration })))
}

/** `up [n]`: the first `n` pending migrations (all when `n` is undefined). */
export const up = (s: Status, n: number | undefined, rules: Rules): Either.Either<Array<Step>, PlanError> =>
  Either.flatMap(gate(s, rules), () => {
    const pending = n === undefined ? s.pending : s.pending.slice(0, n)
    // Out-of-order is judged over everything pending, so `up 1` cannot sneak one through.
    return Either.map(
      applyPending(s.pending, s.current, rules),
      () => pending.map((migration) => ({ direction: "up" as const, migration }))
    )
  })

const revert = (s: Status, rows: ReadonlyArray<History.Row>): Either.Either<Array<Step>, PlanError> => {
  const source = new Map(
    s.entries.flatMap((e) => (e.migration === undefined ? [] : [[e.version, e.migration] as const]))
  )
  const notInSource = rows.filter((r) => !source.has(r.version)).map((r) => r.version)
  if (notInSource.length > 0) {
    return Either.left(new Irreversible({ versions: notInSource, reason: "not in the migration source" }))
  }
  const noDown = rows.filter((r) => source.get(r.version)!.down === undefined).map((r) => r.version)
  if (noDown.length > 0) return Either.left(new Irreversible({ versions: noDown, reason: "no down migration" }))
  return Either.right(rows.map((r) => ({ direction: "down" as const, migration: source.get(r.version)! })))
}

// Revertible rows, newest first. A baseline marker without a file stands for the schema
// that existed before Berth: it is never reverted.
const appliedRows = (s: Status): Array<History.Row> =>
  s.entries
    .flatMap((e) => {
      if (e.row === undefined) return []
      if (e.state === "baseline" && e.migration === undefined) return []
      const applied = e.state === "applied" || e.state === "forced" || e.state === "baseline" || e.state === "missing"
      return applied ? [e.row] : []
    })
    .sort((a, b) => b.seq - a.seq)

/** `down [n]`: the `n` most recently applied migrations, newest first (all when undefined). */
export const down = (s: Status, n: number | undefined, rules: Rules): Either.Either<Array<Step>, PlanError> =>
  Either.flatMap(gate(s, rules), () => {
    const rows = appliedRows(s)
    return revert(s, n === undefined ? rows : rows.slice(0, n))
  })

/** `goto v`: revert everything above `v` (newest first), then apply what is pending up to `v`. */
export const goto = (
  s: Status,
  migrations: ReadonlyArray<Migration.Migration>,
  target: number,
  rules: Rules
): Either.Either<Array<Step>, PlanError> =>
  Either.flatMap(gate(s, rules), () => {
    if (target !== 0 && !migrations.some((m) => m.version === target)) {
      return Either.left(new UnknownVersion({ version: target, reason: "no migration has this version" }))
    }
    const rows = appliedRows(s)
    const above = rows.filter((r) => r.version > target)
    return Either.flatMap(revert(s, above), (downs) => {
      const remaining = s.entries
        .filter((e) => e.row !== undefined && e.version <= target && e.state !== "pending" && e.state !== "failed")
        .map((e) => e.version)
      const latest = remaining.length === 0 ? undefined : Math.max(...remaining)
      const pending = s.pending.filter((m) => m.version <= target)
      return Either.map(applyPending(pending, latest, rules), (ups) => [...downs, ...ups])
    })
  })
