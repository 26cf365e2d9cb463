/**
 * `create`: new migration files with the next version, golang-migrate style
 * (`migrate create -seq -ext sql -dir ./migrations NAME`).
 *
 * @since 0.1.0
 */
import { FileSystem, Path } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Clock, Effect } from "effect"
import { ConfigError } from "./MigrateError.js"

/**
 * Options of `create`.
 *
 * @example
 * ```ts
 * import type { Scaffold } from "@berth/migrate"
 *
 * const options: Scaffold.CreateOptions = { dir: "./migrations", name: "add_orders", format: "seq", ext: "ts" }
 * ```
 *
 * @since 0.1.0
 */
export interface CreateOptions {
  /** Directory (created if missing). */
  readonly dir: string
  /** Descriptive name; anything but letters, digits, `_` and `-` becomes `_`. */
  readonly name: string
  /**
   * `"seq"`: the highest existing version + 1, padded to `digits`; `"timestamp"`: UTC
   * `YYYYMMDDHHMMSS`. Default: the style of the files already there, else `"timestamp"`.
   */
  readonly format?: "seq" | "timestamp" | undefined
  /** Zero padding of sequential versions (default 6, as golang-migrate). */
  readonly digits?: number | undefined
  /** `"sql"` (default): an `.up.sql`/`.down.sql` pair; `"ts"`: one module exporting `up` and `down`. */
  readonly ext?: "sql" | "ts" | undefined
  /** Compute the names and contents, write nothing (default `false`). */
  readonly dryRun?: boolean | undefined
}

/**
 * What `create` wrote.
 *
 * @example
 * ```ts
 * import type { Scaffold } from "@berth/migrate"
 *
 * const show = (created: Scaffold.Created) => created.files.join("\n")
 * ```
 *
 * @since 0.1.0
 */
export interface Created {
  readonly version: number
  readonly files: ReadonlyArray<string>
  /** The text of each file, in the order of `files`. */
  readonly contents: ReadonlyArray<string>
}

const versionOf = (file: string): string | undefined => /^(\d+)_/.exec(file)?.[1]

const timestamp = (millis: number): number => {
  const d = new Date(millis)
  const p = (n: number, w = 2) => String(n).padStart(w, "0")
  return Number(
    `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${
      p(d.getUTCMinutes())
    }${p(d.getUTCSeconds())}`
  )
}

const tsTemplate = `import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

// Set to false to run outside a transaction (CREATE INDEX CONCURRENTLY and the like).
export const transaction = true

export const up = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql\`SELECT 1\`
})

export const down = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql\`SELECT 1\`
})
`

/**
 * Creates the files of a new migration and returns their paths. Never overwrites.
 *
 * @example
 * ```ts
 * import { Scaffold } from "@berth/migrate"
 * import { NodeContext } from "@effect/platform-node"
 * import { Effect } from "effect"
 *
 * const created = await Effect.runPromise(
 *   Scaffold.create({ dir: "./migrations", name: "create_movies_table", format: "seq" }).pipe(
 *     Effect.provide(NodeContext.layer)
 *   )
 * )
 * console.log(created.files) // [".../000001_create_movies_table.up.sql", ".../000001_create_movies_table.down.sql"]
 * ```
 *
 * @since 0.1.0
 */
export const create = (
  options: CreateOptions
): Effect.Effect<Created, ConfigError | PlatformError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const name = options.name.trim().replace(/[^A-Za-z0-9_-]+/g, "_").replace(/^_+|_+$/g, "")
    if (name === "") return yield* new ConfigError({ option: "name", message: "the migration needs a name" })
    const digits = options.digits ?? 6
    if (!Number.isInteger(digits) || digits < 1 || digits > 15) {
      return yield* new ConfigError({ option: "digits", message: "digits must be between 1 and 15" })
    }
    const dirExists = yield* fs.exists(options.dir)
    if (!dirExists && options.dryRun !== true) yield* fs.makeDirectory(options.dir, { recursive: true })
    const existing = (dirExists || options.dryRun !== true ? yield* fs.readDirectory(options.dir) : []).flatMap((f) => {
      const v = versionOf(f)
      return v === undefined ? [] : [v]
    })
    const highest = existing.reduce((max, v) => Math.max(max, Number(v)), 0)
    const format = options.format ??
      (existing.length === 0 ? "timestamp" : existing.some((v) => v.length >= 14) ? "timestamp" : "seq")
    let version: number
    let label: string
    if (format === "seq") {
      version = highest + 1
      label = String(version).padStart(digits, "0")
    } else {
      // Two creates in the same second get consecutive versions rather than a clash.
      version = Math.max(timestamp(yield* Clock.currentTimeMillis), highest + 1)
      label = String(version)
    }
    if (!Number.isSafeInteger(version)) {
      return yield* new ConfigError({ option: "format", message: `next version ${label} is not a safe integer` })
    }
    const files = options.ext === "ts"
      ? [[`${label}_${name}.ts`, tsTemplate]] as const
      : [
        [`${label}_${name}.up.sql`, `-- ${name}: up\n`],
        [`${label}_${name}.down.sql`, `-- ${name}: down\n`]
      ] as const
    const written: Array<string> = []
    for (const [file, text] of files) {
      const full = path.join(options.dir, file)
      if (options.dryRun !== true) yield* fs.writeFileString(full, text, { flag: "wx" })
      written.push(full)
    }
    return { version, files: written, contents: files.map(([, text]) => text) }
  })
