import * as PgError from "@berth/pg/PgError"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber } from "effect"
import { connectTest } from "./helpers.js"

describe("batch", () => {
  it.scoped("atomic: N results in order; the first error fails the batch and rolls all of it back", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.query("create temp table b (x int primary key)")
      const ok = yield* conn.batch([
        { sql: "insert into b values ($1)", params: [1] },
        { sql: "insert into b values ($1), ($2)", params: [2, 3] },
        { sql: "select x from b order by x" },
        { sql: "" }
      ])
      expect(ok.map((r) => [r.command, r.rowCount])).toEqual([["INSERT", 1], ["INSERT", 2], ["SELECT", 3], [
        "",
        undefined
      ]])
      expect(ok[2]!.rows).toEqual([{ x: 1 }, { x: 2 }, { x: 3 }])
      const e = yield* Effect.flip(conn.batch([
        { sql: "insert into b values ($1)", params: [4] },
        { sql: "insert into b values ($1)", params: [1] }, // duplicate key
        { sql: "insert into b values ($1)", params: [5] }
      ]))
      expect(e._tag === "PgUniqueViolation" && e.code).toBe("23505")
      expect((yield* conn.query("select count(*)::int as n from b")).rows).toEqual([{ n: 3 }])
      expect(conn.transactionStatus).toBe("idle")
      expect(yield* conn.batch([])).toEqual([])
      expect((yield* Effect.flip(conn.batch([{ sql: "select $1::int", params: [Symbol("x")] }])))._tag).toBe(
        "PgInputError"
      )
    }))

  it.scoped("settled: an error is confined to its statement; the others commit", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.query("create temp table s (x int primary key)")
      const out = yield* conn.batchSettled([
        { sql: "insert into s values ($1)", params: [1] },
        { sql: "insert into s values ($1)", params: [1] },
        { sql: "selec 1" },
        { sql: "select 1/$1::int as q", params: [0] },
        { sql: "insert into s values ($1) returning x", params: [2] }
      ])
      expect(out.map((o) => Either.isRight(o))).toEqual([true, false, false, false, true])
      const codes = out.map((o) =>
        Either.isLeft(o) && PgError.isServerError(o.left) ? [o.left._tag, o.left.code] : null
      )
      expect(codes).toEqual([
        null,
        ["PgUniqueViolation", "23505"],
        ["PgSyntaxError", "42601"],
        ["PgServerError", "22012"],
        null
      ])
      expect(Either.getOrThrow(out[4]!).rows).toEqual([{ x: 2 }])
      expect((yield* conn.query("select array_agg(x order by x) as xs from s")).rows).toEqual([{ xs: [1, 2] }])
    }))

  it.scopedLive("10,000 statements in one batch", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const many = Array.from({ length: 10_000 }, (_, i) => ({ sql: "select $1::int as i", params: [i] }))
      const results = yield* conn.batchSettled(many)
      expect(results.every((r, i) => Either.isRight(r) && r.right.rows[0]!.i === i)).toBe(true)
    }))

  it.scopedLive("interrupting a batch cancels only the batch; the statement queued behind it runs", () =>
    Effect.gen(function*() {
      // pipeline: 1 keeps the next statement off the wire, so the batch can be cancelled
      const conn = yield* connectTest({}, { pipeline: 1 })
      const fiber = yield* Effect.fork(conn.batch([{ sql: "select 1" }, { sql: "select pg_sleep(30)" }]))
      const after = yield* Effect.fork(conn.query("select pg_sleep(0.05), 'after' as r"))
      yield* Effect.sleep("200 millis")
      const started = Date.now()
      yield* Fiber.interrupt(fiber)
      expect((yield* Fiber.join(after)).rows[0]!.r).toBe("after")
      // cancelled, not waited for
      expect(Date.now() - started).toBeLessThan(10_000)
      expect(conn.isBroken).toBe(false)
    }))

  it.scopedLive("a batch with another caller's statement pipelined behind it is abandoned, not cancelled", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const fiber = yield* Effect.fork(conn.batch([{ sql: "select 1" }, { sql: "select pg_sleep(1)" }]))
      const after = yield* Effect.fork(conn.query("select 'after' as r"))
      yield* Effect.sleep("200 millis")
      const started = Date.now()
      yield* Fiber.interrupt(fiber)
      // a cancel could hit the follower: the batch runs to its end and its outcome is dropped
      expect((yield* Fiber.join(after)).rows[0]!.r).toBe("after")
      expect(Date.now() - started).toBeGreaterThanOrEqual(500)
      expect(conn.isBroken).toBe(false)
    }))
})
