/**
 * Layers for tests that use Berth: a `Db` on the test file's own database (the harness sets
 * `DATABASE_URL` per file), the `@effect/sql` client on it, and the two isolation layers —
 * everything inside one transaction that is rolled back at the end, or one pinned connection.
 *
 * @since 0.1.0
 */
import { Conn, Db, EffectSql, Tx } from "@berth/sql"
import { Layer } from "effect"

const url = (): string => {
  const value = process.env.BERTH_TEST_LAYER_URL ?? process.env.DATABASE_URL
  if (value === undefined) {
    throw new Error("TestLayer: DATABASE_URL is not set (run the tests through the @berth/testing vitest harness)")
  }
  return value
}

/**
 * A `Db` on the test database.
 *
 * @example
 * ```ts
 * import { TestLayer } from "@berth/testing"
 * import { Db } from "@berth/sql"
 * import { Effect } from "effect"
 *
 * const test = Db.query("select 1 as one").pipe(Effect.provide(TestLayer.db()))
 * ```
 *
 * @since 0.1.0
 */
export const db = (options: Omit<Db.DbOptions, "url" | "config"> = {}) =>
  Layer.suspend(() => Db.layer({ maxOpen: 5, ...options, url: url() }))

/**
 * `Db` plus `SqlClient`/`PgClient` on the test database.
 *
 * @example
 * ```ts
 * import { TestLayer } from "@berth/testing"
 * import { SqlClient } from "@effect/sql"
 * import { Effect } from "effect"
 *
 * const test = Effect.flatMap(SqlClient.SqlClient, (sql) => sql`select 1`).pipe(Effect.provide(TestLayer.sql()))
 * ```
 *
 * @since 0.1.0
 */
export const sql = (options: EffectSql.Options = {}) => EffectSql.layer(options).pipe(Layer.provideMerge(db()))

/**
 * Everything provided runs in one transaction that is rolled back when the layer is released:
 * tests leave no trace, without re-creating databases. Transactions inside become savepoints.
 *
 * @example
 * ```ts
 * import { TestLayer } from "@berth/testing"
 * import { Db } from "@berth/sql"
 * import { Effect } from "effect"
 *
 * const test = Db.execute("insert into users(name) values ('gone after the test')").pipe(Effect.provide(TestLayer.rollback()))
 * ```
 *
 * @since 0.1.0
 */
export const rollback = (options: EffectSql.Options = {}) => Tx.layerRollback().pipe(Layer.provideMerge(sql(options)))

/**
 * Everything provided runs on one pinned connection.
 *
 * @example
 * ```ts
 * import { TestLayer } from "@berth/testing"
 * import { Db } from "@berth/sql"
 * import { Effect } from "effect"
 *
 * const test = Db.execute("create temporary table scratch(x int)").pipe(Effect.provide(TestLayer.pinned()))
 * ```
 *
 * @since 0.1.0
 */
export const pinned = (options: EffectSql.Options = {}) => Conn.layer.pipe(Layer.provideMerge(sql(options)))
