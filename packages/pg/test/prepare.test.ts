import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { connectTest } from "./helpers.js"

const preparedNames = (
  conn: {
    simpleQuery: (
      sql: string
    ) => Effect.Effect<ReadonlyArray<{ rows: ReadonlyArray<Record<string, unknown>> }>, unknown>
  }
) =>
  Effect.map(
    conn.simpleQuery("select name from pg_prepared_statements order by name"),
    (r) => r[0]!.rows.map((x) => String(x.name))
  )

describe("PgConnection.prepare", () => {
  it.scoped("a scoped named statement: described once, executed with binary columns, closed with its scope", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest({}, { statementCache: "unnamed" })
      const name = yield* Effect.scoped(Effect.gen(function*() {
        const stmt = yield* conn.prepare("select $1::int8 + 1 as n, $2 as s, now() - now() as d")
        expect(stmt.paramTypes).toEqual([20, 25])
        expect(stmt.fields.map((f) => [f.name, f.format])).toEqual([["n", "binary"], ["s", "text"], ["d", "binary"]])
        for (let i = 0; i < 3; i++) {
          const r = yield* stmt.execute([i, `x${i}`])
          expect(r.rows[0]!.n).toBe(BigInt(i + 1))
          expect(r.rows[0]!.s).toBe(`x${i}`)
        }
        const arrays = yield* stmt.execute([5, "y"], { rowMode: "array" })
        expect(arrays.rows[0]!.slice(0, 2)).toEqual([6n, "y"])
        expect(yield* preparedNames(conn)).toEqual([stmt.name])
        // a binary parameter of another type is refused before it is sent
        expect((yield* Effect.flip(stmt.execute([1, new Uint8Array([1])])))._tag).toBe("PgInputError")
        return stmt.name
      }))
      expect(name).toMatch(/^berth_p/)
      expect(yield* preparedNames(conn)).toEqual([])
      const typed = yield* Effect.scoped(
        Effect.flatMap(conn.prepare("select $1 as v", { paramTypes: [17] }), (s) => s.execute([new Uint8Array([7])]))
      )
      expect(typed.rows[0]!.v).toEqual(new Uint8Array([7]))
      const bad = yield* Effect.flip(Effect.scoped(conn.prepare("selec 1")))
      expect(bad._tag === "PgSyntaxError" && bad.code).toBe("42601")
      expect(yield* preparedNames(conn)).toEqual([])
    }))
})
