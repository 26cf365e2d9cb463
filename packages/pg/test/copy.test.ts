import * as PgConnection from "@berth/pg/PgConnection"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Stream } from "effect"
import { connectTest, withObserver } from "./helpers.js"

const text = (chunks: Chunk.Chunk<Uint8Array>) =>
  Buffer.concat(Chunk.toReadonlyArray(chunks).map((c) => Buffer.from(c))).toString("utf8")

describe("COPY", () => {
  it.scoped("rows encoded by copyTextRow round-trip through COPY FROM STDIN and COPY TO STDOUT byte-identically", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.query("create temp table c (id int, name text, at timestamptz, data bytea, tags text[])")
      const rows: Array<ReadonlyArray<unknown>> = []
      for (let i = 0; i < 20_000; i++) {
        rows.push([
          i,
          i % 7 === 0 ? null : `name\t${i}\n\\ "q" é`,
          new Date(Date.UTC(2024, 0, 1) + i * 1000),
          new Uint8Array([i & 255, 0, 92]),
          ["a", i % 3 === 0 ? null : "b,c"]
        ])
      }
      const copied = yield* Stream.fromIterable(rows).pipe(
        Stream.map((row) => PgConnection.copyTextRow(row)),
        Stream.rechunk(500),
        Stream.run(conn.copyFrom("copy c from stdin"))
      )
      expect(copied).toBe(20_000)
      const back = yield* conn.query("select * from c where id = 14")
      expect(back.rows[0]).toEqual({
        id: 14,
        name: null,
        at: new Date(Date.UTC(2024, 0, 1) + 14_000),
        data: new Uint8Array([14, 0, 92]),
        tags: ["a", "b,c"]
      })
      expect((yield* conn.query("select name from c where id = 1")).rows[0]!.name).toBe("name\t1\n\\ \"q\" é")
      // out, in again into a copy of the table, out again: identical bytes
      const first = text(yield* Stream.runCollect(conn.copyTo("copy c to stdout")))
      yield* conn.query("create temp table d (like c)")
      const again = yield* Stream.run(
        Stream.make(new TextEncoder().encode(first)),
        conn.copyFrom("copy d from stdin")
      )
      expect(again).toBe(20_000)
      const second = text(yield* Stream.runCollect(conn.copyTo("copy d to stdout")))
      expect(second).toBe(first)
      expect(first.split("\n")).toHaveLength(20_001)
      expect(conn.transactionStatus).toBe("idle")
    }))

  it.scoped("an interrupted or failing producer sends CopyFail: nothing copied, the connection is clean", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.query("create temp table f (x int)")
      const exit = yield* Effect.exit(
        Stream.range(1, 1000).pipe(
          Stream.mapEffect((i) => (i === 500 ? Effect.fail("producer broke" as const) : Effect.succeed(i))),
          Stream.map((i) => PgConnection.copyTextRow([i])),
          Stream.run(conn.copyFrom("copy f from stdin"))
        )
      )
      expect(Exit.isFailure(exit)).toBe(true)
      expect((yield* conn.query("select count(*)::int as n from f")).rows).toEqual([{ n: 0 }])
      // a server-side error (bad data) fails the sink with the server's error
      const bad = yield* Effect.flip(
        Stream.run(Stream.make(new TextEncoder().encode("1\nnot a number\n")), conn.copyFrom("copy f from stdin"))
      )
      expect(bad._tag === "PgServerError" && bad.code).toBe("22P02")
      // not a COPY FROM STDIN at all
      expect((yield* Effect.flip(Stream.run(Stream.empty, conn.copyFrom("select 1"))))._tag).toBe("PgInputError")
      expect((yield* conn.query("select 1 as one")).rows).toEqual([{ one: 1 }])
      expect(conn.transactionStatus).toBe("idle")
    }))

  it.scopedLive("an interrupted COPY FROM (waiting producer) and an early-ended COPY TO leave the connection usable", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.query("create temp table g (x int)")
      const fiber = yield* Effect.fork(
        Stream.make(PgConnection.copyTextRow([1])).pipe(
          Stream.concat(Stream.never),
          Stream.run(conn.copyFrom("copy g from stdin"))
        )
      )
      yield* Effect.sleep("200 millis")
      yield* Fiber.interrupt(fiber)
      expect((yield* conn.query("select count(*)::int as n from g")).rows).toEqual([{ n: 0 }])
      // COPY TO of a large result, ended after the first element: cancelled, connection reused
      const firstLine = yield* Stream.runHead(
        conn.copyTo("copy (select g, repeat('x', 100) from generate_series(1, 5000000) g) to stdout", {
          highWaterMark: 64 * 1024
        })
      )
      expect(Buffer.from(firstLine._tag === "Some" ? firstLine.value : new Uint8Array()).toString()).toMatch(/^1\t/)
      expect((yield* conn.query("select pg_sleep(0.05), 2 as two")).rows[0]!.two).toBe(2)
      expect(conn.isBroken).toBe(false)
      expect((yield* Effect.flip(Stream.runDrain(conn.copyTo("select 1"))))._tag).toBe("PgInputError")
    }))

  it.scopedLive("a server error while the producer is idle fails the sink at once; the connection stays usable", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.query("create temp table h (x int not null)")
      const encode = (s: string) => new TextEncoder().encode(s)
      // one bad chunk, then a producer that never ends: only the op's failure can end the sink
      const idleAfter = (payload: string) =>
        Stream.run(
          Stream.concat(Stream.make(encode(payload)), Stream.never),
          conn.copyFrom("copy h from stdin")
        ).pipe(Effect.timeout("10 seconds"), Effect.flip)
      const badInt = yield* idleAfter("1\nnot a number\n")
      expect(badInt._tag).toBe("PgServerError")
      expect(badInt._tag === "PgServerError" && badInt.code).toBe("22P02")
      expect((yield* conn.query("select 1 as one")).rows).toEqual([{ one: 1 }])
      const notNull = yield* idleAfter("1\n\\N\n")
      expect(notNull._tag).toBe("PgNotNullViolation")
      // a CSV payload on a text-format statement: the whole line is one bad int
      const csv = yield* idleAfter("1,2\n")
      expect(csv._tag === "PgServerError" && csv.code).toBe("22P02")
      expect((yield* conn.query("select count(*)::int as n from h")).rows).toEqual([{ n: 0 }])
      expect(conn.isBroken).toBe(false)
      expect(conn.transactionStatus).toBe("idle")
      // and the next COPY works
      expect(yield* Stream.run(Stream.make(encode("1\n2\n")), conn.copyFrom("copy h from stdin"))).toBe(2)
    }))

  it.scopedLive("the backend terminated while the producer is idle: a typed error at once, no hang", () =>
    withObserver((observer) =>
      Effect.gen(function*() {
        const conn = yield* connectTest()
        yield* conn.query("create temp table k (x int)")
        const fiber = yield* Effect.fork(
          Stream.run(
            Stream.concat(Stream.make(PgConnection.copyTextRow([1])), Stream.never),
            conn.copyFrom("copy k from stdin")
          ).pipe(Effect.timeout("10 seconds"), Effect.flip)
        )
        const pid = conn.backendPid
        for (let k = 0;; k++) {
          const r = yield* observer.query("select query from pg_stat_activity where pid = $1 and state = 'active'", [
            pid
          ])
          if (r.rows.length === 1 && String(r.rows[0]!.query).startsWith("copy k")) break
          if (k === 100) throw new Error("the COPY never became active")
          yield* Effect.sleep("20 millis")
        }
        yield* observer.query("select pg_terminate_backend($1)", [pid])
        const e = yield* Fiber.join(fiber)
        expect(e._tag).toBe("PgAdminShutdown")
        if (e._tag === "PgAdminShutdown") expect(e.code).toBe("57P01")
        expect(conn.isBroken).toBe(true)
        expect((yield* Effect.flip(conn.query("select 1")))._tag).toBe("PgConnectionError")
      })
    ))

  it.scoped("large payloads are split into several CopyData and mixed with small ones in order", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.query("create temp table m (s text)")
      // multi-byte rows, so that message boundaries fall inside characters and rows
      const rows: Array<string> = []
      for (let i = 0; rows.length < 12_000; i++) rows.push(`${i} é ${"ü€".repeat(i % 200)}\n`)
      const all = Buffer.from(rows.join(""), "utf8")
      expect(all.length).toBeGreaterThan(3 * 1024 * 1024)
      // a Uint8Array view at an offset of a larger buffer, not a Buffer
      const backing = new Uint8Array(all.length + 7)
      backing.set(all, 3)
      const bytes = backing.subarray(3, 3 + all.length)
      const cuts = [0, 1, 5, 100, 70_000, 70_013, all.length - 10, all.length]
      const pieces = cuts.slice(1).map((end, i) => bytes.subarray(cuts[i]!, end))
      const copied = yield* Stream.run(
        Stream.fromChunk(Chunk.unsafeFromArray(pieces)),
        conn.copyFrom("copy m from stdin")
      )
      expect(copied).toBe(rows.length)
      const back = Buffer.concat(
        Chunk.toReadonlyArray(
          yield* Stream.runCollect(
            // the heap may place short rows in earlier pages' free space: read back in row order
            conn.copyTo("copy (select s from m order by split_part(s, ' ', 1)::int) to stdout")
          )
        ).map((c) => Buffer.from(c))
      )
      expect(back.equals(all)).toBe(true)
    }))
})
