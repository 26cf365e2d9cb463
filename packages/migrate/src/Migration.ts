/**
 * What a migration is: a version, a name, an `up` body, an optional `down` body, and
 * the checksum that detects edits after it was applied.
 *
 * @since 0.1.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { Effect } from "effect"
import * as crypto from "node:crypto"

/**
 * The body of one direction of a migration: SQL text, or an Effect that uses the
 * `SqlClient`. `transactional: false` runs it outside a transaction (the
 * `-- berth:no-transaction` directive of a file), for statements such as
 * `CREATE INDEX CONCURRENTLY`.
 *
 * @example
 * ```ts
 * import * as Migration from "@berth/migrate/Migration"
 *
 * const body: Migration.Body = Migration.sql("alter type mood add value 'meh'", { transactional: false })
 * ```
 *
 * @since 0.1.0
 */
export type Body =
  | {
    readonly _tag: "Sql"
    readonly sql: string
    readonly transactional: boolean
  }
  | {
    readonly _tag: "Effect"
    readonly effect: Effect.Effect<unknown, unknown, SqlClient.SqlClient>
    readonly transactional: boolean
  }

/**
 * One migration.
 *
 * @example
 * ```ts
 * import type { Migration } from "@berth/migrate"
 *
 * const describe = (m: Migration.Migration) => `${m.version} ${m.name}${m.down === undefined ? " (no down)" : ""}`
 * ```
 *
 * @since 0.1.0
 */
export interface Migration {
  /** A positive safe integer: sequential (`1`, `2`, ...) or a timestamp (`20240131093000`). */
  readonly version: number
  readonly name: string
  readonly up: Body
  readonly down: Body | undefined
  /**
   * SHA-256 (hex) of the `up` body as written: the file's text for files, the given
   * checksum for in-memory Effects (none means "never checked").
   */
  readonly checksum: string | undefined
  /** Where it came from, for messages: a file path or `"memory"`. */
  readonly origin: string
}

/**
 * SHA-256 of a text with line endings normalised to `\n`, so a checkout with
 * `core.autocrlf` does not look like an edited migration.
 *
 * @example
 * ```ts
 * import * as Migration from "@berth/migrate/Migration"
 *
 * console.log(Migration.checksum("create table t (id int);\r\n") === Migration.checksum("create table t (id int);\n"))
 * // true
 * ```
 *
 * @since 0.1.0
 */
export const checksum = (text: string): string =>
  crypto.createHash("sha256").update(text.replace(/\r\n/g, "\n"), "utf8").digest("hex")

/**
 * A SQL body.
 *
 * @example
 * ```ts
 * import * as Migration from "@berth/migrate/Migration"
 *
 * const body = Migration.sql("create index concurrently users_email on users (email)", { transactional: false })
 * ```
 *
 * @since 0.1.0
 */
export const sql = (text: string, options?: { readonly transactional?: boolean | undefined }): Body => ({
  _tag: "Sql",
  sql: text,
  transactional: options?.transactional ?? true
})

/**
 * An Effect body.
 *
 * @example
 * ```ts
 * import * as Migration from "@berth/migrate/Migration"
 * import { SqlClient } from "@effect/sql"
 * import { Effect } from "effect"
 *
 * const body = Migration.effect(Effect.gen(function*() {
 *   const sql = yield* SqlClient.SqlClient
 *   yield* sql`insert into settings (key, value) values ('theme', 'dark')`
 * }))
 * ```
 *
 * @since 0.1.0
 */
export const effect = (
  effect: Effect.Effect<unknown, unknown, SqlClient.SqlClient>,
  options?: { readonly transactional?: boolean | undefined }
): Body => ({ _tag: "Effect", effect, transactional: options?.transactional ?? true })

/**
 * `000042_add_users` style label (versions below one million are padded to six digits,
 * as golang-migrate's `-seq` does).
 *
 * @example
 * ```ts
 * import * as Migration from "@berth/migrate/Migration"
 *
 * console.log(Migration.label({ version: 42, name: "add_users" })) // "000042_add_users"
 * ```
 *
 * @since 0.1.0
 */
export const label = (migration: { readonly version: number; readonly name: string }): string =>
  `${String(migration.version).padStart(6, "0")}_${migration.name}`
