/**
 * Raw wire values from a real server, through the npm `pg` client with every type parser turned
 * off. Text values are exactly the strings a connection decodes. Binary values come from each
 * type's own send function (`int4send`, `array_send`, ... — what the server calls to produce a
 * binary result column), fetched as hex text: `pg`'s own `binary: true` mode decodes rows as
 * UTF-8 first and so corrupts non-UTF-8 bytes.
 */
import * as TestDatabase from "@berth/testing/TestDatabase"
import pg from "pg"

const raw = { getTypeParser: () => (value: string) => value }

export interface Wire {
  readonly client: pg.Client
  /** The type's OID and send function name. */
  readonly type: (name: string) => Promise<{ readonly oid: number; readonly send: string }>
  /** Text and binary forms of `expr::type` (either null for SQL NULL). */
  readonly value: (
    expr: string,
    type: string,
    params?: ReadonlyArray<unknown>
  ) => Promise<{ readonly oid: number; readonly text: string | null; readonly bytes: Uint8Array | null }>
  readonly query: (text: string, params?: ReadonlyArray<unknown>) => Promise<Array<Record<string, string | null>>>
  readonly end: () => Promise<void>
}

export const connect = async (): Promise<Wire> => {
  const client = new pg.Client({ connectionString: TestDatabase.current().url })
  await client.connect()
  const types = new Map<string, { oid: number; send: string }>()
  const query = async (text: string, params: ReadonlyArray<unknown> = []) =>
    (await client.query<Record<string, string | null>>({ text, values: [...params], types: raw })).rows
  const type = async (name: string) => {
    const known = types.get(name)
    if (known !== undefined) return known
    const [row] = await query("select t.oid, t.typsend::text as send from pg_type t where t.oid = $1::regtype", [name])
    if (row === undefined) throw new Error(`no type ${name}`)
    const resolved = { oid: Number(row["oid"]), send: row["send"]! }
    types.set(name, resolved)
    return resolved
  }
  return {
    client,
    type,
    query,
    value: async (expr, typeName, params = []) => {
      const { oid, send } = await type(typeName)
      const [row] = await query(`select (${expr})::${typeName} as v, ${send}((${expr})::${typeName}) as b`, params)
      const b = row!["b"] ?? null
      return {
        oid,
        text: row!["v"] ?? null,
        bytes: b === null ? null : new Uint8Array(Buffer.from(b.slice(2), "hex"))
      }
    },
    end: () => client.end()
  }
}
