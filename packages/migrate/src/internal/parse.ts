/**
 * Turns named inputs (files or in-memory entries) into migrations, collecting every
 * problem instead of stopping at the first.
 *
 * @internal
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"
import type { LoadProblem } from "../MigrateError.js"
import * as Migration from "../Migration.js"
import * as SqlText from "./sqlText.js"

/** A file as read: SQL text, or a module (already imported) plus its text for the checksum. */
export type Entry =
  | { readonly _tag: "Sql"; readonly file: string; readonly text: string }
  | { readonly _tag: "Module"; readonly file: string; readonly text: string; readonly module: unknown }

const sqlName = /^(\d+)_(.+)\.(up|down)\.sql$/
const moduleName = /^(\d+)_(.+)\.(ts|mts|js|mjs)$/

/** Files a migrations directory may contain besides migrations. */
export const isIgnored = (base: string): boolean =>
  base.startsWith(".") || /\.(md|txt)$/i.test(base) || /\.d\.[mc]?ts$/.test(base) || /\.map$/.test(base)

/** Whether a file name is a TypeScript/JavaScript migration module. */
export const isModuleFile = (base: string): boolean => moduleName.test(base) && !/\.d\.[mc]?ts$/.test(base)

const parseVersion = (digits: string, file: string, problems: Array<LoadProblem>): number | undefined => {
  const version = Number(digits)
  if (!Number.isSafeInteger(version) || version <= 0) {
    problems.push({
      kind: "invalid-version",
      file,
      message: `version ${digits} must be a positive integer below 2^53`
    })
    return undefined
  }
  return version
}

/**
 * Reads the `-- berth:` directives of a SQL text and checks it for transaction control
 * statements; returns whether it runs in a transaction.
 */
export const directive = (file: string, text: string, problems: Array<LoadProblem>): boolean => {
  let transactional = true
  for (const d of SqlText.directives(text)) {
    if (d.name === "no-transaction") transactional = false
    else {
      problems.push({
        kind: "unknown-directive",
        file,
        message: `line ${d.line}: unknown directive "berth:${d.name}" (known: berth:no-transaction)`
      })
    }
  }
  if (transactional) {
    for (const statement of SqlText.transactionControlStatements(text)) {
      problems.push({
        kind: "transaction-control",
        file,
        message: `line ${statement.line}: "${
          statement.text.split(/\s+/)[0]
        }" controls the transaction that Berth already wraps around each migration; remove it, or add "-- berth:no-transaction" at the top to run the file statement by statement`
      })
    }
  }
  return transactional
}

const isEffect = (u: unknown): u is Effect.Effect<unknown, unknown, SqlClient.SqlClient> => Effect.isEffect(u)

interface ModuleShape {
  readonly up: Effect.Effect<unknown, unknown, SqlClient.SqlClient>
  readonly down: Effect.Effect<unknown, unknown, SqlClient.SqlClient> | undefined
  readonly transactional: boolean
}

const readModule = (module: unknown): ModuleShape | string => {
  if (typeof module !== "object" || module === null) return "is not a module"
  const m = module as Record<string, unknown>
  // `export default Effect` (the @effect/sql Migrator convention) or `export default { up, down }`.
  const candidate = m["up"] === undefined && m["default"] !== undefined && !isEffect(m["default"])
    ? m["default"] as Record<string, unknown>
    : m
  const up = candidate["up"] ?? (isEffect(m["default"]) ? m["default"] : undefined)
  if (up === undefined) return "exports no `up` Effect (nor a default Effect)"
  if (!isEffect(up)) return "`up` is not an Effect"
  const down = candidate["down"]
  if (down !== undefined && !isEffect(down)) return "`down` is not an Effect"
  const transaction = candidate["transaction"]
  if (transaction !== undefined && typeof transaction !== "boolean") return "`transaction` must be a boolean"
  return { up, down: down as ModuleShape["down"], transactional: transaction ?? true }
}

interface Half {
  readonly version: number
  readonly name: string
  readonly file: string
  readonly body: Migration.Body
  readonly checksum: string
}

/** Builds the migrations of a set of entries, or the list of every problem. */
export const entries = (
  input: ReadonlyArray<Entry>,
  initialProblems: ReadonlyArray<LoadProblem> = []
): { readonly migrations: Array<Migration.Migration>; readonly problems: Array<LoadProblem> } => {
  const problems: Array<LoadProblem> = [...initialProblems]
  const ups = new Map<number, Array<Half>>()
  const downs = new Map<number, Array<Half>>()
  const add = (map: Map<number, Array<Half>>, half: Half) => {
    const list = map.get(half.version)
    if (list === undefined) map.set(half.version, [half])
    else list.push(half)
  }
  for (const entry of [...input].sort((a, b) => a.file.localeCompare(b.file))) {
    const base = entry.file.split(/[\\/]/).pop() ?? entry.file
    if (entry._tag === "Sql") {
      const match = sqlName.exec(base)
      if (match === null) {
        problems.push({
          kind: "unparsable-name",
          file: entry.file,
          message: "expected NNNNNN_name.up.sql or NNNNNN_name.down.sql"
        })
        continue
      }
      const version = parseVersion(match[1]!, entry.file, problems)
      if (version === undefined) continue
      const transactional = directive(entry.file, entry.text, problems)
      add(match[3] === "up" ? ups : downs, {
        version,
        name: match[2]!,
        file: entry.file,
        body: Migration.sql(entry.text, { transactional }),
        checksum: Migration.checksum(entry.text)
      })
    } else {
      const match = moduleName.exec(base)
      if (match === null) {
        problems.push({ kind: "unparsable-name", file: entry.file, message: "expected NNNNNN_name.ts" })
        continue
      }
      const version = parseVersion(match[1]!, entry.file, problems)
      if (version === undefined) continue
      const shape = readModule(entry.module)
      if (typeof shape === "string") {
        problems.push({ kind: "invalid-module", file: entry.file, message: shape })
        continue
      }
      const checksum = Migration.checksum(entry.text)
      add(ups, {
        version,
        name: match[2]!,
        file: entry.file,
        body: Migration.effect(shape.up, { transactional: shape.transactional }),
        checksum
      })
      if (shape.down !== undefined) {
        add(downs, {
          version,
          name: match[2]!,
          file: entry.file,
          body: Migration.effect(shape.down, { transactional: shape.transactional }),
          checksum
        })
      }
    }
  }
  const migrations: Array<Migration.Migration> = []
  for (const [version, list] of ups) {
    if (list.length > 1) {
      problems.push({
        kind: "duplicate-version",
        file: list.map((h) => h.file).join(", "),
        message: `version ${version} is defined ${list.length} times`
      })
      continue
    }
    const up = list[0]!
    const downList = downs.get(version) ?? []
    if (downList.length > 1 && downList.every((d) => d.file !== up.file)) {
      problems.push({
        kind: "duplicate-version",
        file: downList.map((h) => h.file).join(", "),
        message: `version ${version} has ${downList.length} down migrations`
      })
      continue
    }
    const down = downList[0]
    if (down !== undefined && down.name !== up.name) {
      problems.push({
        kind: "name-mismatch",
        file: down.file,
        message: `down is named "${down.name}" but its up (${up.file}) is named "${up.name}"`
      })
      continue
    }
    migrations.push({
      version,
      name: up.name,
      up: up.body,
      down: down?.body,
      checksum: up.checksum,
      origin: up.file
    })
  }
  for (const [version, list] of downs) {
    if (!ups.has(version)) {
      for (const half of list) {
        problems.push({ kind: "down-without-up", file: half.file, message: `no up migration for version ${version}` })
      }
    }
  }
  migrations.sort((a, b) => a.version - b.version)
  return { migrations, problems }
}
