/**
 * The statement compiler of the data layer. Berth reuses `@effect/sql-pg`'s compiler so
 * that `sql` templates (`sql.in`, `sql.insert`, `sql.update`, `sql.json`, identifiers,
 * fragments) produce exactly the SQL and parameters they produce under `@effect/sql-pg`.
 *
 * @since 0.1.0
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as Statement from "@effect/sql/Statement"

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Renames identifiers written in the query (e.g. `String.camelToSnake`). */
  readonly transformQueryNames?: ((name: string) => string) | undefined
  /** Whether `transformQueryNames` also applies to the keys of `sql.json` values (default: true). */
  readonly transformJson?: boolean | undefined
}

/**
 * Makes a compiler that renders statements with `$1, $2, ...` placeholders, every value
 * a bound parameter (never interpolated).
 *
 * @example
 * ```ts
 * import * as Statement from "@effect/sql/Statement"
 * import * as SqlCompiler from "@berth/sql/SqlCompiler"
 * import { Effect } from "effect"
 *
 * const sql = Statement.make(Effect.dieMessage("compile only"), SqlCompiler.make(), [], undefined)
 * const [text, params] = sql`select * from users where id in ${sql.in([1, 2])}`.compile()
 * // text   = 'select * from users where id in ($1,$2)'
 * // params = [1, 2]
 * ```
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Statement.Compiler =>
  PgClient.makeCompiler(options.transformQueryNames, options.transformJson ?? true)
