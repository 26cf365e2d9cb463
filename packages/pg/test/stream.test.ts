import * as PgConnection from "@berth/pg/PgConnection"
import type * as PgError from "@berth/pg/PgError"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Stream } from "effect"
import { connectTest, withObserver } from "./helpers.js"

const failure = <A>(effect: Effect.Effect<A, PgError.PgError>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    if (Exit.isSuccess(exit)) throw new Error("expected a failure")
    if (exit.cause._tag !== "Fail") throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
    return exit.cause.error
  })

describe("PgConnection.stream (rows over a portal)", () => {
  for (const statementCache of [256, "unnamed"] as const) {
    it.scoped(`every row in order, in chunks of at most fetchSize (statementCache ${statementCache})`, () =>
      Effect.gen(function*() {
        const conn = yield* connectTest({}, { statementCache })
        const sql = "select g as n, g::text as s from generate_series(1, $1::int) g"
        for (let round = 0; round < 2; round++) {
          const chunks = yield* Stream.runCollect(Stream.chunks(conn.stream(sql, [10_000], { fetchSize: 300 })))
          const sizes = Chunk.toReadonlyArray(chunks).map(Chunk.size)
          expect(sizes.every((n) => n <= 300)).toBe(true)
          const rows = Chunk.toReadonlyArray(chunks).flatMap((c) => Chunk.toReadonlyArray(c))
          expect(rows).toHaveLength(10_000)
          expect(rows[0]).toEqual({ n: 1, s: "1" })
          expect(rows[9_999]).toEqual({ n: 10_000, s: "10000" })
          expect(rows.every((r, i) => r.n === i + 1)).toBe(true)
        }
        const arrays = yield* Stream.runCollect(conn.stream(sql, [3], { rowMode: "array", fetchSize: 2 }))
        expect(Chunk.toReadonlyArray(arrays)).toEqual([[1, "1"], [2, "2"], [3, "3"]])
        expect(conn.transactionStatus).toBe("idle")
        const empty = yield* Stream.runCollect(conn.stream("select 1 where false"))
        expect(Chunk.size(empty)).toBe(0)
      }))
  }

  it.scoped("backpressure: the server produces only what is pulled (plus one chunk of look-ahead)", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.query("create sequence produced")
      const taken = yield* Stream.runCollect(
        conn.stream("select nextval('produced') as v from generate_series(1, 1000000)", [], { fetchSize: 10 }).pipe(
          Stream.take(25)
        )
      )
      expect(Chunk.size(taken)).toBe(25)
      // sequences are not transactional: another session sees how far the portal ran
      const produced = yield* withObserver((o) => o.query("select last_value from produced"))
      expect(Number(produced.rows[0]!.last_value)).toBeLessThanOrEqual(40)
      expect((yield* conn.query("select 1 as one")).rows).toEqual([{ one: 1 }])
      expect(conn.transactionStatus).toBe("idle")
    }))

  it.scopedLive("early end while an Execute is running cancels only the stream; the connection is reused", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      for (let i = 0; i < 5; i++) {
        const started = Date.now()
        const first = yield* Stream.runCollect(
          conn.stream("select g, pg_sleep(case when g > 2 then 0.2 else 0 end) from generate_series(1, 100) g", [], {
            fetchSize: 2
          }).pipe(Stream.take(1 + (i % 2)))
        )
        expect(Chunk.size(first)).toBe(1 + (i % 2))
        // the statement after the stream is never hit by the stream's cancel
        const after = yield* conn.query("select pg_sleep(0.05), 'ok' as r")
        expect(after.rows[0]!.r).toBe("ok")
        expect(Date.now() - started).toBeLessThan(15_000)
        expect(conn.isBroken).toBe(false)
      }
    }))

  it.scopedLive("race: streams ended at random moments never cancel a later statement", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const queued = []
      for (let i = 0; i < 40; i++) {
        // each stream ends early, often with an Execute in flight (a slow chunk being computed)
        yield* Effect.fork(
          Stream.runDrain(
            conn.stream("select g, pg_sleep(0.002) from generate_series(1, 1000) g", [], { fetchSize: 3 }).pipe(
              Stream.take(1 + Math.floor(Math.random() * 10))
            )
          )
        )
        // a statement queued behind it, which a stray CancelRequest would fail with 57014
        queued.push(yield* Effect.fork(conn.query("select pg_sleep(0.001), $1::int as i", [i])))
      }
      for (let i = 0; i < queued.length; i++) {
        expect((yield* Fiber.join(queued[i]!)).rows[0]!.i).toBe(i)
      }
      expect(conn.isBroken).toBe(false)
    }), { timeout: 120_000 })

  it.scopedLive("interrupting the consuming fiber closes the portal", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const fiber = yield* Effect.fork(
        Stream.runDrain(conn.stream("select pg_sleep(0.01) from generate_series(1, 100000)", [], { fetchSize: 5 }))
      )
      yield* Effect.sleep("300 millis")
      yield* Fiber.interrupt(fiber)
      yield* conn.awaitReady
      expect(conn.isBroken).toBe(false)
      expect(conn.transactionStatus).toBe("idle")
      expect((yield* conn.query("select 2 as two")).rows).toEqual([{ two: 2 }])
    }))

  it.scoped("an error mid-stream fails the stream after the rows before it; the connection is fine", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      let seen = 0
      const e = yield* failure(
        Stream.runForEach(
          conn.stream("select 10 / (500 - g) as v from generate_series(1, 1000) g", [], { fetchSize: 100 }),
          () => Effect.sync(() => seen++)
        )
      )
      expect(e._tag === "PgServerError" && e.code).toBe("22012")
      expect(seen).toBeGreaterThanOrEqual(400)
      expect(seen).toBeLessThan(500)
      expect(conn.transactionStatus).toBe("idle")
      expect((yield* conn.query("select 3 as n")).rows).toEqual([{ n: 3 }])
      const parse = yield* failure(Stream.runDrain(conn.stream("selec 1")))
      expect(parse._tag === "PgSyntaxError" && parse.code).toBe("42601")
      const input = yield* failure(Stream.runDrain(conn.stream("select 1", [], { fetchSize: 0 })))
      expect(input._tag).toBe("PgInputError")
    }))

  it.scoped("a downstream failure ends the stream early and leaves the connection clean", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const exit = yield* Effect.exit(
        Stream.runDrain(
          conn.stream("select g from generate_series(1, 100000) g", [], { fetchSize: 50 }).pipe(
            Stream.mapEffect((row) => (row.g === 120 ? Effect.fail("downstream" as const) : Effect.void))
          )
        )
      )
      expect(Exit.isFailure(exit)).toBe(true)
      expect((yield* conn.query("select 4 as n")).rows).toEqual([{ n: 4 }])
      expect(conn.transactionStatus).toBe("idle")
    }))

  it.scoped("inside a transaction block the stream leaves the transaction open; other calls wait for the stream", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.simpleQuery("begin; create temp table t as select g from generate_series(1, 1000) g")
      const queued = yield* Effect.fork(conn.query("select count(*)::int as c from t"))
      const rows = yield* Stream.runCollect(conn.stream("select g from t order by g", [], { fetchSize: 64 }))
      expect(Chunk.size(rows)).toBe(1000)
      expect((yield* Fiber.join(queued)).rows).toEqual([{ c: 1000 }])
      expect(conn.transactionStatus).toBe("transaction")
      yield* conn.simpleQuery("rollback")
      expect(conn.transactionStatus).toBe("idle")
    }))

  it.scoped("the second stream of a statement reads binary columns; values are the same", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const sql =
        "select g::int8 as b, timestamptz '2024-01-01 00:00:00.123456+00' - g * interval '1 day' as t, g::float8 / 3 as f from generate_series(1, 50) g"
      const a = yield* Stream.runCollect(conn.stream(sql, [], { fetchSize: 7 }))
      const b = yield* Stream.runCollect(conn.stream(sql, [], { fetchSize: 7 }))
      expect(Chunk.toReadonlyArray(b)).toEqual(Chunk.toReadonlyArray(a))
      expect(typeof Chunk.unsafeGet(a, 0).b).toBe("bigint")
    }))

  it.scoped("a stream on a closed connection fails with a typed error", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.close
      const e = yield* failure(Stream.runDrain(conn.stream("select 1")))
      expect(e._tag).toBe("PgConnectionError")
      expect(PgConnection.isCanceled(e)).toBe(false)
    }))
})
