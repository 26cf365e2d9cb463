import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { connectTest } from "./helpers.js"

describe("PgConnection queries", () => {
  it.scoped("runs an extended query with bound parameters", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const r = yield* conn.query("select $1::int + 1 as n, $2::text as s, null::int as z", [41, "x"])
      expect(r.rows).toEqual([{ n: 42, s: "x", z: null }])
      expect(r.command).toBe("SELECT")
      expect(r.rowCount).toBe(1)
      expect(r.fields.map((f) => f.name)).toEqual(["n", "s", "z"])
      expect(r.fields[0]!.dataTypeOid).toBe(23)
      expect(conn.transactionStatus).toBe("idle")
      expect(conn.backendPid).toBeGreaterThan(0)
      expect(conn.parameters.get("server_encoding")).toBe("UTF8")
    }))
})
