import * as PgCopy from "@berth/pg/PgCopy"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as crypto from "node:crypto"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { connectTest, withObserver } from "./helpers.js"

/**
 * A full garbage collection. Vitest does not pass `--expose-gc`; the flag can still be set at run
 * time, and a fresh context then exposes `gc`.
 */
const gc: () => void = (() => {
  const exposed = (globalThis as { gc?: () => void }).gc
  if (typeof exposed === "function") return exposed
  v8.setFlagsFromString("--expose-gc")
  return vm.runInNewContext("gc") as () => void
})()

const heapAfterGc = (): number => {
  gc()
  return process.memoryUsage().heapUsed
}

const ROWS = 1_000_000

/** Row `i` in the server's canonical text output (what COPY TO writes back for it). */
const row = (i: number): ReadonlyArray<unknown> => [
  i,
  i % 10 === 0 ? null : i % 7 === 0 ? `tab\tnl\nbs\\ ${i} é` : `name-${i}`,
  BigInt(i) * 9_000_000_000_001n,
  `${Math.floor(i / 100)}.${String(i % 100).padStart(2, "0")}`,
  i % 2 === 0,
  i % 5 === 0 ? new Uint8Array([i & 255, 0, 92]) : null
]

const table = "(id int4, name text, big int8, amount numeric(12, 2), flag bool, data bytea)"

const hashOf = () => {
  const hash = crypto.createHash("sha256")
  let bytes = 0
  return {
    update: (chunk: Uint8Array) =>
      Effect.sync(() => {
        hash.update(chunk)
        bytes += chunk.length
      }),
    digest: () => ({ bytes, sha256: hash.digest("hex") })
  }
}

describe("large data", () => {
  for (const format of ["text", "binary"] as const) {
    it.scoped(
      `COPY of 1,000,000 rows in and out round-trips byte-identically (${format})`,
      () =>
        Effect.gen(function*() {
          const conn = yield* connectTest()
          yield* conn.query(`create temp table big_${format} ${table}`)
          const options: PgCopy.EncodeOptions = format === "text"
            ? { format: "text" }
            : { format: "binary", types: ["int4", "text", "int8", "numeric", "bool", "bytea"] }
          const sent = hashOf()
          const started = Date.now()
          const copied = yield* Stream.range(1, ROWS).pipe(
            Stream.map(row),
            PgCopy.encode(options),
            Stream.tap(sent.update),
            Stream.run(
              conn.copyFrom(`copy big_${format} from stdin${format === "binary" ? " with (format binary)" : ""}`)
            )
          )
          const inMs = Date.now() - started
          expect(copied).toBe(ROWS)
          const received = hashOf()
          const outStarted = Date.now()
          yield* Stream.runForEach(
            conn.copyTo(
              `copy (select * from big_${format} order by id) to stdout${
                format === "binary" ? " with (format binary)" : ""
              }`
            ),
            received.update
          )
          const outMs = Date.now() - outStarted
          const a = sent.digest()
          const b = received.digest()
          expect(a.bytes).toBeGreaterThan(ROWS * 20)
          expect(b).toEqual(a)
          console.log(`${format}: ${ROWS} rows, ${a.bytes} bytes, COPY FROM ${inMs} ms, COPY TO ${outMs} ms`)
        }),
      120_000
    )
  }

  it.scoped("a 5,000,000-row stream keeps heap growth under 50 MB", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const baseline = heapAfterGc()
      let peak = 0
      let rows = 0
      let sum = 0
      const started = Date.now()
      yield* conn.stream(
        "select g, g::text as t, g::int8 * 3 as big, g % 2 = 0 as even from generate_series(1, 5000000) g",
        [],
        { fetchSize: 5000, rowMode: "array" }
      ).pipe(
        Stream.runForEach((r) =>
          Effect.sync(() => {
            rows++
            sum += r[0] as number
            if (rows % 250_000 === 0) peak = Math.max(peak, heapAfterGc() - baseline)
          })
        )
      )
      const ms = Date.now() - started
      expect(rows).toBe(5_000_000)
      expect(sum).toBe(5_000_000 * 5_000_001 / 2)
      console.log(`5M-row stream: ${ms} ms, peak heap growth ${(peak / 1048576).toFixed(1)} MB`)
      expect(peak).toBeLessThan(50 * 1024 * 1024)
      // the same measure sees a result held in memory: the bound is meaningful
      const held = yield* conn.query("select g, g::text as t from generate_series(1, 500000) g", [], {
        rowMode: "array"
      })
      const holding = heapAfterGc() - baseline
      expect(held.rows).toHaveLength(500_000)
      expect(holding).toBeGreaterThan(10 * 1024 * 1024)
    }), 120_000)

  it.scopedLive("taking the first rows of a 5,000,000-row stream releases the connection at once", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const pid = conn.backendPid
      const started = Date.now()
      const first = yield* conn.stream("select g from generate_series(1, 5000000) g", [], { fetchSize: 1000 }).pipe(
        Stream.take(10),
        Stream.runCollect
      )
      expect(Array.from(first, (r) => r.g)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      // the next statement on the connection works, outside any transaction
      expect((yield* conn.query("select 42 as n")).rows).toEqual([{ n: 42 }])
      expect(conn.transactionStatus).toBe("idle")
      expect(conn.isBroken).toBe(false)
      // far less than reading 5M rows would take; the server is idle, the portal gone
      expect(Date.now() - started).toBeLessThan(3000)
      const state = yield* withObserver((obs) => obs.query("select state from pg_stat_activity where pid = $1", [pid]))
      expect(state.rows).toEqual([{ state: "idle" }])
      expect(
        (yield* conn.query("select count(*)::int as n from pg_cursors where statement not like '%pg_cursors%'")).rows
      ).toEqual([{ n: 0 }])
      // and a failing consumer ends the stream the same way
      const failed = yield* Effect.flip(
        conn.stream("select g from generate_series(1, 5000000) g", [], { fetchSize: 1000 }).pipe(
          Stream.mapEffect((r) => (r.g === 2500 ? Effect.fail("consumer broke" as const) : Effect.succeed(r))),
          Stream.runDrain
        )
      )
      expect(failed).toBe("consumer broke")
      expect((yield* conn.query("select 43 as n")).rows).toEqual([{ n: 43 }])
      expect(conn.transactionStatus).toBe("idle")
    }))
})
