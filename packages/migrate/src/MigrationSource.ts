/**
 * Where migrations come from: a directory of golang-migrate style `.up.sql`/`.down.sql`
 * pairs and TypeScript modules, a record of file contents (bundlers, tests), or
 * migrations written in code.
 *
 * @since 0.1.0
 */
import { FileSystem, Path } from "@effect/platform"
import type * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"
import { pathToFileURL } from "node:url"
import * as Parse from "./internal/parse.js"
import type { LoadProblem } from "./MigrateError.js"
import { LoadError } from "./MigrateError.js"
import * as Migration from "./Migration.js"

/**
 * An Effect that loads the migrations, sorted by version, or fails with every problem.
 *
 * @example
 * ```ts
 * import { MigrationSource } from "@berth/migrate"
 * import { Effect } from "effect"
 *
 * // A source is an Effect: combine or filter sources like any other.
 * const onlyEarly: MigrationSource.MigrationSource = Effect.map(
 *   MigrationSource.fromFiles({ "000001_a.up.sql": "select 1", "000002_b.up.sql": "select 2" }),
 *   (migrations) => migrations.filter((m) => m.version < 2)
 * )
 * ```
 *
 * @since 0.1.0
 */
export type MigrationSource<R = never> = Effect.Effect<ReadonlyArray<Migration.Migration>, LoadError, R>

const finish = (
  result: { readonly migrations: ReadonlyArray<Migration.Migration>; readonly problems: ReadonlyArray<LoadProblem> }
): Effect.Effect<ReadonlyArray<Migration.Migration>, LoadError> =>
  result.problems.length > 0
    ? Effect.fail(new LoadError({ problems: result.problems }))
    : Effect.succeed(result.migrations)

/**
 * Reads a directory: `NNNNNN_name.up.sql` / `NNNNNN_name.down.sql` pairs (versions
 * sequential or timestamps, as golang-migrate writes them) and `NNNNNN_name.ts` modules
 * that export `up` (and optionally `down` and `transaction`) Effects, or a default Effect
 * (the `@effect/sql` Migrator convention). Dotfiles and `.md`/`.txt` files are ignored;
 * anything else that does not parse is a problem. Modules are imported with `import()`, so
 * `.ts` files need a runtime that loads TypeScript (tsx, vitest, Node's type stripping).
 *
 * @example
 * ```ts
 * import { MigrationSource } from "@berth/migrate"
 * import { NodeContext } from "@effect/platform-node"
 * import { Effect } from "effect"
 *
 * const migrations = await Effect.runPromise(
 *   MigrationSource.fromDirectory("./migrations").pipe(Effect.provide(NodeContext.layer))
 * )
 * ```
 *
 * @since 0.1.0
 */
export const fromDirectory = (directory: string): MigrationSource<FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const absolute = path.resolve(directory)
    const exists = yield* fs.exists(absolute).pipe(Effect.orElseSucceed(() => false))
    if (!exists) {
      return yield* new LoadError({
        problems: [{ kind: "missing-directory", file: directory, message: "directory does not exist" }]
      })
    }
    const names = yield* fs.readDirectory(absolute).pipe(
      Effect.mapError((error) =>
        new LoadError({ problems: [{ kind: "read-failed", file: directory, message: error.message }] })
      )
    )
    const problems: Array<LoadProblem> = []
    const entries: Array<Parse.Entry> = []
    for (const name of names.sort()) {
      if (Parse.isIgnored(name)) continue
      const file = path.join(directory, name)
      const full = path.join(absolute, name)
      const info = yield* fs.stat(full).pipe(Effect.option)
      if (info._tag === "Some" && info.value.type === "Directory") continue
      const text = yield* fs.readFileString(full).pipe(Effect.either)
      if (text._tag === "Left") {
        problems.push({ kind: "read-failed", file, message: text.left.message })
        continue
      }
      if (name.endsWith(".sql")) {
        entries.push({ _tag: "Sql", file, text: text.right })
      } else if (Parse.isModuleFile(name)) {
        const module = yield* Effect.tryPromise(() => import(/* @vite-ignore */ pathToFileURL(full).href)).pipe(
          Effect.either
        )
        if (module._tag === "Left") {
          problems.push({ kind: "invalid-module", file, message: `import failed: ${String(module.left.error)}` })
          continue
        }
        entries.push({ _tag: "Module", file, text: text.right, module: module.right })
      } else {
        problems.push({
          kind: "unparsable-name",
          file,
          message: "expected NNNNNN_name.up.sql, NNNNNN_name.down.sql or NNNNNN_name.ts"
        })
      }
    }
    return yield* finish(Parse.entries(entries, problems))
  })

/**
 * Migrations from a record of file name to SQL text, parsed exactly like a directory: for
 * bundlers (`import.meta.glob("./migrations/*.sql", { query: "?raw", eager: true })`) and
 * tests. Keys may contain a path; only the base name is parsed.
 *
 * @example
 * ```ts
 * import { MigrationSource } from "@berth/migrate"
 *
 * const source = MigrationSource.fromFiles({
 *   "000001_create_users.up.sql": "create table users (id bigint primary key)",
 *   "000001_create_users.down.sql": "drop table users"
 * })
 * ```
 *
 * @since 0.1.0
 */
export const fromFiles = (files: Readonly<Record<string, string>>): MigrationSource =>
  Effect.suspend(() =>
    finish(Parse.entries(Object.entries(files).map(([file, text]) => ({ _tag: "Sql" as const, file, text }))))
  )

/**
 * Migrations from a record of file name to module (or to a function importing it): for
 * bundlers, like `@effect/sql`'s `fromGlob` (`import.meta.glob("./migrations/*.ts")`)
 * and `fromBabelGlob`. Modules follow the directory rules (`up`/`down`/`transaction`
 * exports, or a default Effect). No file text is available, so these migrations carry
 * no checksum.
 *
 * @example
 * ```ts
 * import { MigrationSource } from "@berth/migrate"
 * import { SqlClient } from "@effect/sql"
 * import { Effect } from "effect"
 *
 * const source = MigrationSource.fromModules({
 *   "./migrations/0001_create_users.ts": () =>
 *     Promise.resolve({
 *       default: Effect.flatMap(SqlClient.SqlClient, (sql) => sql`create table users (id serial primary key)`)
 *     })
 * })
 * ```
 *
 * @since 0.1.0
 */
export const fromModules = (
  modules: Readonly<Record<string, unknown>>
): MigrationSource =>
  Effect.gen(function*() {
    const problems: Array<LoadProblem> = []
    const entries: Array<Parse.Entry> = []
    for (const [file, value] of Object.entries(modules)) {
      const loaded = typeof value === "function"
        ? yield* Effect.tryPromise(() => Promise.resolve((value as () => unknown)())).pipe(Effect.either)
        : { _tag: "Right" as const, right: value }
      if (loaded._tag === "Left") {
        problems.push({ kind: "invalid-module", file, message: `import failed: ${String(loaded.left.error)}` })
        continue
      }
      entries.push({ _tag: "Module", file, text: "", module: loaded.right })
    }
    const result = Parse.entries(entries, problems)
    // No source text: drop the checksum of the empty string.
    return yield* finish({
      migrations: result.migrations.map((m) => ({ ...m, checksum: undefined })),
      problems: result.problems
    })
  })

/**
 * A migration written in code: `up` and `down` are SQL text, an Effect, or a
 * `Migration.Body`.
 *
 * @example
 * ```ts
 * import type { MigrationSource } from "@berth/migrate"
 *
 * const definition: MigrationSource.Definition = {
 *   version: 1,
 *   name: "create_users",
 *   up: "create table users (id bigint primary key)",
 *   down: "drop table users"
 * }
 * ```
 *
 * @since 0.1.0
 */
export interface Definition {
  readonly version: number
  readonly name: string
  readonly up: string | Migration.Body | Effect.Effect<unknown, unknown, SqlClient.SqlClient>
  readonly down?: string | Migration.Body | Effect.Effect<unknown, unknown, SqlClient.SqlClient> | undefined
  /**
   * `false`: run outside a transaction. Default: inside one, unless SQL text starts with
   * `-- berth:no-transaction`. Applies to string and Effect bodies, not to `Migration.Body`.
   */
  readonly transactional?: boolean | undefined
  /** For Effect bodies, a checksum to detect edits (for example a hash of their source). */
  readonly checksum?: string | undefined
}

const toBody = (
  body: string | Migration.Body | Effect.Effect<unknown, unknown, SqlClient.SqlClient>,
  transactional: boolean
): Migration.Body =>
  typeof body === "string"
    ? Migration.sql(body, { transactional })
    : Effect.isEffect(body)
    ? Migration.effect(body, { transactional })
    : body

/**
 * Migrations defined in code (the in-memory source): validated like files (positive
 * versions, no duplicates).
 *
 * @example
 * ```ts
 * import { MigrationSource } from "@berth/migrate"
 * import { SqlClient } from "@effect/sql"
 * import { Effect } from "effect"
 *
 * const source = MigrationSource.make([
 *   { version: 1, name: "create_users", up: "create table users (id bigint primary key)", down: "drop table users" },
 *   {
 *     version: 2,
 *     name: "seed_admin",
 *     up: Effect.flatMap(SqlClient.SqlClient, (sql) => sql`insert into users (id) values (1)`)
 *   }
 * ])
 * ```
 *
 * @since 0.1.0
 */
export const make = (definitions: ReadonlyArray<Definition>): MigrationSource =>
  Effect.suspend(() => {
    const problems: Array<LoadProblem> = []
    const seen = new Set<number>()
    const migrations: Array<Migration.Migration> = []
    for (const d of definitions) {
      const file = `memory:${d.version}_${d.name}`
      if (!Number.isSafeInteger(d.version) || d.version <= 0) {
        problems.push({ kind: "invalid-version", file, message: `version ${d.version} must be a positive integer` })
        continue
      }
      if (seen.has(d.version)) {
        problems.push({ kind: "duplicate-version", file, message: `version ${d.version} is defined more than once` })
        continue
      }
      seen.add(d.version)
      // SQL text follows the file rules: `-- berth:no-transaction` at the top, no BEGIN/COMMIT
      // in a transactional body. An explicit `transactional` wins over the directive.
      const transactionalOf = (body: Definition["up"] | undefined, direction: string): boolean => {
        if (typeof body !== "string") return d.transactional ?? true
        if (d.transactional === false) return false
        const byDirective = Parse.directive(`${file} (${direction})`, body, problems)
        return d.transactional ?? byDirective
      }
      const up = toBody(d.up, transactionalOf(d.up, "up"))
      migrations.push({
        version: d.version,
        name: d.name,
        up,
        down: d.down === undefined ? undefined : toBody(d.down, transactionalOf(d.down, "down")),
        checksum: up._tag === "Sql" ? Migration.checksum(up.sql) : d.checksum,
        origin: file
      })
    }
    migrations.sort((a, b) => a.version - b.version)
    return finish({ migrations, problems })
  })
