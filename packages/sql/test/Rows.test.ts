import { Db, Rows, Tx } from "@berth/sql"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import { createTable, DbTest, otherSessions } from "./util.js"

const openCursors = Effect.map(
  Db.query(
    "select count(*)::int as n from pg_stat_activity where datname = current_database() and state like 'idle in transaction%' and pid <> pg_backend_pid()"
  ),
  (rows) => Number(rows[0]?.n)
)

describe("Rows", () => {
  it.live("streams a large result in chunks of fetchSize with constant memory", () =>
    Effect.gen(function*() {
      const n = 200_000
      let chunks = 0
      let largest = 0
      const sum = yield* Rows.stream("select g as x, repeat('x', 20) as pad from generate_series(1, $1::int) g", [n], {
        fetchSize: 5_000
      }).pipe(
        Stream.mapChunks((chunk) => {
          chunks++
          largest = Math.max(largest, Chunk.size(chunk))
          return chunk
        }),
        Stream.runFold(0, (acc, row) => acc + Number(row.x))
      )
      expect(sum).toBe((n * (n + 1)) / 2)
      expect(largest).toBeLessThanOrEqual(5_000)
      expect(chunks).toBeGreaterThanOrEqual(n / 5_000)
      expect((yield* Db.stats).inUse).toBe(0)
    }).pipe(Effect.provide(DbTest())))

  it.live("ending early closes the cursor and returns the connection clean", () =>
    Effect.gen(function*() {
      const first = yield* Rows.stream("select g from generate_series(1, 1000000) g", [], { fetchSize: 100 }).pipe(
        Stream.take(10),
        Stream.runCollect
      )
      expect(Chunk.toReadonlyArray(first).map((r) => r.g)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      expect((yield* Db.stats).inUse).toBe(0)
      expect(yield* openCursors).toBe(0)
      expect(yield* otherSessions("active")).toBe(0)
    }).pipe(Effect.provide(DbTest({ maxOpen: 2 }))))

  it.live("an error mid-stream fails the stream", () =>
    Effect.gen(function*() {
      const error = yield* Rows.stream("select 10 / (1000 - g) as x from generate_series(1, 2000) g", [], {
        fetchSize: 100
      }).pipe(
        Stream.runDrain,
        Effect.flip
      )
      expect((error as { code?: string }).code).toBe("22012")
      expect((yield* Db.stats).inUse).toBe(0)
    }).pipe(Effect.provide(DbTest())))

  it.live("inside a transaction the stream sees the transaction's own writes", () =>
    Effect.gen(function*() {
      yield* createTable("t", "x int")
      const seen = yield* Tx.transaction(Effect.gen(function*() {
        yield* Db.execute("insert into t select generate_series(1, 50)")
        return yield* Rows.stream("select x from t", [], { fetchSize: 7 }).pipe(Stream.runCount)
      }))
      expect(seen).toBe(50)
    }).pipe(Effect.provide(DbTest({ maxOpen: 1 }))))

  it.live("inside a transaction the consumer can run statements while it reads", () =>
    Effect.gen(function*() {
      yield* createTable("src", "x int")
      yield* createTable("dst", "x int")
      yield* Db.execute("insert into src select generate_series(1, 300)")
      yield* Tx.transaction(
        Rows.stream("select x from src order by x", [], { fetchSize: 50 }).pipe(
          Stream.mapEffect((row) => Db.execute("insert into dst values ($1)", [row.x])),
          Stream.runDrain
        )
      )
      expect(yield* Db.query("select count(*)::int as n, sum(x)::int as s from dst")).toEqual([{ n: 300, s: 45150 }])
    }).pipe(Effect.provide(DbTest({ maxOpen: 1 }))))
})
