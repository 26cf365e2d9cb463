import pg from "pg"
import { describe, expect, inject, it } from "vitest"
import * as TestDatabase from "../src/TestDatabase.js"

const query = async <R extends pg.QueryResultRow>(url: string, text: string): Promise<Array<R>> => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<R>(text)).rows
  } finally {
    await client.end()
  }
}

describe("the per-file test database", () => {
  it("is a fresh database of its own, named in DATABASE_URL", async () => {
    const db = TestDatabase.current()
    expect(process.env["DATABASE_URL"]).toBe(db.url)
    const [row] = await query<{ name: string; tables: string }>(
      db.url,
      "select current_database() as name, (select count(*) from pg_tables where schemaname = 'public') as tables"
    )
    expect(row).toEqual({ name: db.database, tables: "0" })
  })

  it("is writable and isolated from the administrative database", async () => {
    const db = TestDatabase.current()
    await query(db.url, "create table isolation_probe (id int)")
    const rows = await query<{ n: string }>(
      inject("berthServer").url,
      "select count(*) as n from pg_tables where tablename = 'isolation_probe'"
    )
    expect(rows[0]?.n).toBe("0")
  })

  it("create gives distinct databases and drop removes them", async () => {
    const server = inject("berthServer")
    const [a, b] = await Promise.all([TestDatabase.create(server), TestDatabase.create(server)])
    expect(a.database).not.toBe(b.database)
    await Promise.all([a.drop(), b.drop()])
    const rows = await query<{ n: string }>(
      server.url,
      `select count(*) as n from pg_database where datname in ('${a.database}', '${b.database}')`
    )
    expect(rows[0]?.n).toBe("0")
  })
})
