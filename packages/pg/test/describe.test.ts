import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { connectTest } from "./helpers.js"

describe("described columns are reused only when the server describes them identically", () => {
  for (const statementCache of ["unnamed", 16] as const) {
    it.live(`statementCache ${statementCache}: a changed column type or name is seen at once`, () =>
      Effect.scoped(Effect.gen(function*() {
        const conn = yield* connectTest({}, { statementCache })
        yield* conn.query("create temp table t_desc (x int)")
        yield* conn.query("insert into t_desc values (7)")
        const sql = "select * from t_desc"
        for (let i = 0; i < 3; i++) expect((yield* conn.query(sql)).rows).toEqual([{ x: 7 }])
        yield* conn.query("alter table t_desc alter column x type text")
        expect((yield* conn.query(sql)).rows).toEqual([{ x: "7" }])
        yield* conn.query("alter table t_desc rename column x to y")
        expect((yield* conn.query(sql)).rows).toEqual([{ y: "7" }])
        yield* conn.query("alter table t_desc add column z bigint default 5")
        const last = yield* conn.query(sql)
        expect(last.rows).toEqual([{ y: "7", z: 5n }])
        expect(last.fields.map((f) => f.name)).toEqual(["y", "z"])
      })))
  }

  it.live("simple queries and the unnamed statement return equal results on every execution", () =>
    Effect.scoped(Effect.gen(function*() {
      const conn = yield* connectTest({}, { statementCache: "unnamed" })
      const results = yield* Effect.all(
        Array.from({ length: 50 }, (_, i) => conn.query("select $1::int as i, 'x' || $1::text as s", [i])),
        { concurrency: "unbounded" }
      )
      results.forEach((r, i) => expect(r.rows).toEqual([{ i, s: `x${i}` }]))
      const [a] = yield* conn.simpleQuery("select 1 as one, now() as at")
      const [b] = yield* conn.simpleQuery("select 1 as one, now() as at")
      expect(a!.fields).toEqual(b!.fields)
      expect(b!.rows[0]!.one).toBe(1)
    })))
})
