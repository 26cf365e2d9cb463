import { MigrationSource } from "@berth/migrate"
import type * as Migrator from "@berth/migrate/Migrator"
import { EffectSql } from "@berth/sql"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"

let counter = 0

/** A fresh schema name per test, so tests in one file (one database) do not meet. */
export const freshSchema = (prefix = "s"): string => `${prefix}_${process.pid}_${++counter}`

/**
 * A SqlClient on the file's test database (a pool of its own, like a separate replica):
 * Berth's `@effect/sql` client by default, `@effect/sql-pg`'s with
 * `BERTH_MIGRATE_CLIENT=effect-sql-pg` (the migrator runs on any SqlClient).
 */
export const SqlLive = (options?: { readonly applicationName?: string; readonly maxConnections?: number }) =>
  Layer.suspend((): Layer.Layer<SqlClient.SqlClient, unknown> => {
    const url = new URL(process.env["DATABASE_URL"]!)
    url.searchParams.set("application_name", options?.applicationName ?? "berth-migrate-test")
    return process.env["BERTH_MIGRATE_CLIENT"] === "effect-sql-pg"
      ? PgClient.layer({
        url: Redacted.make(url.toString()),
        maxConnections: options?.maxConnections ?? 4
      })
      : EffectSql.layerUrl(url.toString(), { maxOpen: options?.maxConnections ?? 4 })
  })

/** Runs raw SQL on the client. */
export const exec = (text: string) => Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(text))

/** Rows of a query. */
export const query = <A extends object = Record<string, unknown>>(text: string, params: ReadonlyArray<unknown> = []) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<A>(text, params))

/**
 * Everything the catalogs say about the objects of a schema: relations, columns,
 * constraints, indexes, sequences, functions and types, as sorted lines. Two equal
 * snapshots mean the same schema (pg_dump is not used: the machine's pg_dump 15 refuses
 * the embedded PostgreSQL 17).
 */
export const snapshot = (schema: string) =>
  Effect.map(
    query<{ line: string }>(
      `SELECT 'rel ' || c.relname || ' ' || c.relkind::text AS line FROM pg_class c WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1::text)
UNION ALL SELECT 'col ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '')
  FROM information_schema.columns WHERE table_schema = $1::text
UNION ALL SELECT 'con ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1::text)
UNION ALL SELECT 'idx ' || indexdef FROM pg_indexes WHERE schemaname = $1::text
UNION ALL SELECT 'fn ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' FROM pg_proc p WHERE p.pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1::text)
UNION ALL SELECT 'type ' || t.typname FROM pg_type t WHERE t.typnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1::text) AND t.typtype IN ('e', 'd')
ORDER BY 1`,
      [schema]
    ),
    (rows) => rows.map((r) => r.line)
  )

/** A realistic set of migrations in one schema, every one reversible. */
export const shopFiles = (schema: string): Record<string, string> => ({
  "000001_create_users.up.sql": `CREATE SCHEMA IF NOT EXISTS ${schema};
CREATE TABLE ${schema}.users (
  id bigserial PRIMARY KEY,
  email text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);`,
  "000001_create_users.down.sql": `DROP TABLE ${schema}.users;`,
  "000002_add_status.up.sql": `CREATE TYPE ${schema}.user_status AS ENUM ('active', 'banned');
ALTER TABLE ${schema}.users ADD COLUMN status ${schema}.user_status NOT NULL DEFAULT 'active';`,
  "000002_add_status.down.sql": `ALTER TABLE ${schema}.users DROP COLUMN status;
DROP TYPE ${schema}.user_status;`,
  "000003_orders.up.sql": `CREATE TABLE ${schema}.orders (
  id bigserial PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES ${schema}.users (id),
  total numeric(12, 2) NOT NULL CHECK (total >= 0)
);
CREATE FUNCTION ${schema}.order_count(uid bigint) RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT count(*) FROM ${schema}.orders WHERE user_id = uid; -- a ';' inside a dollar quote
$$;`,
  "000003_orders.down.sql": `DROP FUNCTION ${schema}.order_count(bigint);
DROP TABLE ${schema}.orders;`,
  "000004_orders_index.up.sql": `-- berth:no-transaction
CREATE INDEX CONCURRENTLY orders_user_id ON ${schema}.orders (user_id);`,
  "000004_orders_index.down.sql": `-- berth:no-transaction
DROP INDEX CONCURRENTLY ${schema}.orders_user_id;`
})

/** Options for a test: its own history table inside its own schema. */
export const options = (
  schema: string,
  files: Record<string, string>,
  extra: Partial<Migrator.Options> = {}
): Migrator.Options => ({
  source: MigrationSource.fromFiles(files),
  table: `${schema}_meta.history`,
  appliedBy: "test",
  onEvent: () => Effect.void,
  ...extra
})
