/**
 * The history table: its DDL, its rows and the statements that change it. Statements are
 * values (`text` + `params`) so that a dry run prints exactly what a real run sends.
 *
 * @internal
 */
import { Either } from "effect"
import { ConfigError, type ServerError } from "../MigrateError.js"

/** A schema-qualified (or search-path relative) table name, already validated. */
export interface TableName {
  readonly schema: string | undefined
  readonly table: string
  /** `"schema"."table"`, ready to splice into SQL. */
  readonly quoted: string
  /** `schema.table` as the user wrote it, for messages and the lock key. */
  readonly display: string
}

const identifier = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/

const quote = (id: string): string => `"${id.replace(/"/g, "\"\"")}"`

/** Parses `table` or `schema.table`. */
export const parseTableName = (name: string): Either.Either<TableName, ConfigError> => {
  const parts = name.split(".")
  if (parts.length > 2 || parts.some((p) => !identifier.test(p))) {
    return Either.left(
      new ConfigError({
        option: "table",
        message: `"${name}" is not a table name: expected "table" or "schema.table" made of letters, digits and _`
      })
    )
  }
  const [first, second] = parts as [string, string | undefined]
  return Either.right(
    second === undefined
      ? { schema: undefined, table: first, quoted: quote(first), display: first }
      : { schema: first, table: second, quoted: `${quote(first)}.${quote(second)}`, display: name }
  )
}

/** The same table with an explicit schema. */
export const qualify = (t: TableName, schema: string): TableName =>
  t.schema !== undefined ? t : {
    schema,
    table: t.table,
    quoted: `${quote(schema)}.${quote(t.table)}`,
    display: `${schema}.${t.table}`
  }

/** A statement with its parameters. */
export interface Stmt {
  readonly text: string
  readonly params: ReadonlyArray<string | number | boolean | null>
}

const literal = (value: string | number | boolean | null): string =>
  value === null
    ? "NULL"
    : typeof value === "number" || typeof value === "boolean"
    ? String(value)
    : `'${value.replace(/'/g, "''")}'`

/** The statement with its parameters spliced in as literals, for printing only. */
export const render = (stmt: Stmt): string =>
  stmt.text.replace(/\$(\d+)/g, (_, n: string) => {
    const value = stmt.params[Number(n) - 1]
    return value === undefined ? `$${n}` : literal(value)
  })

/** Row states: `running` exists only while (or because) a no-transaction migration ran. */
export type Status = "applied" | "baseline" | "forced" | "failed" | "running"

/** The failure recorded in a row (`direction` says which way it was going). */
export interface RecordedError extends Partial<ServerError> {
  readonly direction: "up" | "down"
}

/** One row of the history table. */
export interface Row {
  readonly version: number
  readonly name: string
  readonly checksum: string | null
  readonly status: Status
  readonly transactional: boolean
  readonly appliedAt: Date
  readonly durationMs: number | null
  readonly appliedBy: string
  readonly dbUser: string
  readonly error: RecordedError | null
  readonly note: string | null
  readonly seq: number
}

/** Creates the schema (if named) and the table. */
export const create = (t: TableName): ReadonlyArray<Stmt> => [
  ...(t.schema === undefined ? [] : [{ text: `CREATE SCHEMA IF NOT EXISTS ${quote(t.schema)}`, params: [] }]),
  {
    text: `CREATE TABLE IF NOT EXISTS ${t.quoted} (
  version bigint PRIMARY KEY CHECK (version > 0),
  name text NOT NULL,
  checksum text,
  status text NOT NULL CHECK (status IN ('applied', 'baseline', 'forced', 'failed', 'running')),
  transactional boolean NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  duration_ms double precision,
  applied_by text NOT NULL,
  db_user text NOT NULL DEFAULT current_user,
  error jsonb,
  note text,
  seq bigint GENERATED ALWAYS AS IDENTITY
)`,
    params: []
  }
]

/** Whether the table exists (search path respected for unqualified names). */
export const exists = (t: TableName): Stmt => ({
  text: "SELECT to_regclass($1) IS NOT NULL AS exists",
  params: [t.quoted]
})

/** Every row, in application order. */
export const select = (t: TableName): Stmt => ({
  text:
    `SELECT version::text AS version, name, checksum, status, transactional, applied_at, duration_ms, applied_by, db_user, error, note, seq::text AS seq FROM ${t.quoted} ORDER BY seq`,
  params: []
})

/** Decodes a row as node-postgres or Berth returns it (bigint as text, jsonb parsed). */
export const decode = (raw: Record<string, unknown>): Row => ({
  version: Number(raw["version"]),
  name: String(raw["name"]),
  checksum: raw["checksum"] === null || raw["checksum"] === undefined ? null : String(raw["checksum"]),
  status: String(raw["status"]) as Status,
  transactional: raw["transactional"] === true,
  appliedAt: raw["applied_at"] instanceof Date ? raw["applied_at"] : new Date(String(raw["applied_at"])),
  durationMs: raw["duration_ms"] === null || raw["duration_ms"] === undefined ? null : Number(raw["duration_ms"]),
  appliedBy: String(raw["applied_by"]),
  dbUser: String(raw["db_user"]),
  error: (typeof raw["error"] === "string" ? JSON.parse(raw["error"]) : raw["error"] ?? null) as RecordedError | null,
  note: raw["note"] === null || raw["note"] === undefined ? null : String(raw["note"]),
  seq: Number(raw["seq"])
})

interface Fields {
  readonly version: number
  readonly name: string
  readonly checksum: string | undefined
  readonly transactional: boolean
  readonly appliedBy: string
}

/** Inserts (or overwrites) the row of a migration in a given state. */
export const upsert = (
  t: TableName,
  f: Fields & {
    readonly status: Status
    readonly durationMs: number | null
    readonly error: RecordedError | null
    readonly note: string | null
  }
): Stmt => ({
  text: `INSERT INTO ${t.quoted} (version, name, checksum, status, transactional, duration_ms, applied_by, error, note)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)
ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, checksum = EXCLUDED.checksum, status = EXCLUDED.status,
  transactional = EXCLUDED.transactional, applied_at = now(), duration_ms = EXCLUDED.duration_ms,
  applied_by = EXCLUDED.applied_by, db_user = current_user, error = EXCLUDED.error, note = EXCLUDED.note`,
  params: [
    f.version,
    f.name,
    f.checksum ?? null,
    f.status,
    f.transactional,
    f.durationMs,
    f.appliedBy,
    f.error === null ? null : JSON.stringify(f.error),
    f.note
  ]
})

/** Sets the state of an existing row (used around no-transaction migrations and repairs). */
export const setStatus = (
  t: TableName,
  version: number,
  status: Status,
  fields: { readonly durationMs?: number | null; readonly error: RecordedError | null }
): Stmt => ({
  text: fields.durationMs === undefined
    ? `UPDATE ${t.quoted} SET status = $2, error = $3::jsonb WHERE version = $1`
    : `UPDATE ${t.quoted} SET status = $2, error = $3::jsonb, duration_ms = $4, applied_at = now() WHERE version = $1`,
  params: fields.durationMs === undefined
    ? [version, status, fields.error === null ? null : JSON.stringify(fields.error)]
    : [version, status, fields.error === null ? null : JSON.stringify(fields.error), fields.durationMs]
})

/** Records a new checksum for an applied migration. */
export const setChecksum = (t: TableName, version: number, checksum: string, note: string): Stmt => ({
  text: `UPDATE ${t.quoted} SET checksum = $2, note = $3 WHERE version = $1`,
  params: [version, checksum, note]
})

/** Removes a row (a reverted or repaired migration). */
export const remove = (t: TableName, version: number): Stmt => ({
  text: `DELETE FROM ${t.quoted} WHERE version = $1`,
  params: [version]
})
