import * as TestDatabase from "@berth/testing/TestDatabase"
import * as Statement from "@effect/sql/Statement"
import { Effect, String } from "effect"
import pg from "pg"
import { describe, expect, it } from "vitest"
import * as SqlCompiler from "../src/SqlCompiler.js"

const constructor = (options?: SqlCompiler.Options) =>
  Statement.make(Effect.dieMessage("compile only"), SqlCompiler.make(options), [], undefined)

describe("SqlCompiler", () => {
  const sql = constructor()

  it("binds every value as a parameter, never interpolating it", () => {
    const hostile = "'; drop table users; --"
    const [text, params] = sql`select * from users where name = ${hostile} and id in ${sql.in([1, 2, 3])}`.compile()
    expect(text).toBe("select * from users where name = $1 and id in ($2,$3,$4)")
    expect(params).toEqual([hostile, 1, 2, 3])
  })

  it("compiles insert and update helpers and quotes identifiers", () => {
    const [insert, insertParams] = sql`insert into ${sql("my table")} ${
      sql.insert([{ a: 1, b: "x" }, { a: 2, b: "y" }])
    }`
      .compile()
    expect(insert).toBe(`insert into "my table" ("a","b") VALUES ($1,$2),($3,$4)`)
    expect(insertParams).toEqual([1, "x", 2, "y"])
    const [update, updateParams] = sql`update t set ${sql.update({ a: 1, b: null })} where id = ${7}`.compile()
    expect(update).toBe(`update t set "a" = $1, "b" = $2 where id = $3`)
    expect(updateParams).toEqual([1, null, 7])
  })

  it("applies the identifier transform", () => {
    const snake = constructor({ transformQueryNames: String.camelToSnake })
    const [text] = snake`select ${snake("createdAt")} from t`.compile()
    expect(text).toBe(`select "created_at" from t`)
  })

  it("produces SQL that PostgreSQL accepts with the parameters bound", async () => {
    const [text, params] = sql`select ${"a'b"}::text as s, ${41}::int + 1 as n, 3 = any(${[1, 2, 3]}::int[]) as found`
      .compile()
    const client = new pg.Client({ connectionString: TestDatabase.current().url })
    await client.connect()
    try {
      const { rows } = await client.query(text, params as Array<unknown>)
      expect(rows).toEqual([{ s: "a'b", n: 42, found: true }])
    } finally {
      await client.end()
    }
  })
})
