import * as PgConnection from "@berth/pg/PgConnection"
import * as PgCopy from "@berth/pg/PgCopy"
import * as PgError from "@berth/pg/PgError"
import * as PgTypes from "@berth/pg/PgTypes"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Exit, Fiber, Stream } from "effect"
import { connectTest, withObserver } from "./helpers.js"

const columns = "id int4, t text, big int8, n numeric, data bytea, at timestamptz, tags text[], doc jsonb, ints int4[]"
const binaryTypes = ["int4", "text", "bigint", "numeric", "bytea", "timestamptz", "text[]", "jsonb", "int4[]"]

/** Values that are hard for at least one of the formats. */
const tricky: ReadonlyArray<ReadonlyArray<unknown>> = [
  [1, "plain", 1n, "0", new Uint8Array([]), new Date(Date.UTC(2024, 0, 1)), [], {}, []],
  [2, "", -9223372036854775808n, "-0.5", new Uint8Array([0, 92, 255, 10, 9]), new Date(0), [""], { a: "" }, [0]],
  [
    3,
    "tab\there\nnew line\r\\back\\slash",
    9223372036854775807n,
    "12345678901234567890.000000001",
    null,
    null,
    [
      "a,b",
      "q\"uote",
      null,
      "NULL",
      "\\"
    ],
    { s: "tab\t \"q\" \\ é 😀" },
    [1, null, -2147483648]
  ],
  [4, "\"quoted\", comma", 0n, "1e3", new Uint8Array([1, 2, 3]), new Date("0001-01-01T12:00:00.000Z"), ["é", "😀"], {
    list: [1, "two", null]
  }, [2147483647]],
  [5, null, null, null, null, null, null, null, null],
  [6, "\\.", 42n, "NaN", new Uint8Array([92, 46]), new Date(Date.UTC(2262, 3, 11, 23, 47, 16, 854)), ["\\."], {
    n: 1.5
  }, [[1, 2], [3, 4]]],
  [
    7,
    "unicode ✓ ünïcödé 中文 😀",
    9007199254740993n,
    "-0.000000000000000000000000000001",
    new Uint8Array(300).fill(7),
    new Date(Date.UTC(1999, 11, 31, 23, 59, 59, 999)),
    null,
    "\"a json string\"",
    null
  ],
  [8, ",", 7n, "100000000000000000000000000000", new Uint8Array([44]), new Date(Date.UTC(-100, 0, 1)), [","], {
    k: [true, null]
  }, [
    null
  ]]
]

const textOf = (chunks: Chunk.Chunk<Uint8Array>) =>
  Buffer.concat(Chunk.toReadonlyArray(chunks).map((c) => Buffer.from(c))).toString("utf8")

describe("PgCopy.rowsSink", () => {
  it.scoped("text, CSV and binary round-trip tricky values: same table contents as INSERT with parameters", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.simpleQuery(
        `set timezone = 'UTC'; create temp table ref (${columns}); create temp table tx (like ref);` +
          "create temp table csv (like ref); create temp table bin (like ref)"
      )
      // the reference: the same rows through INSERT with bound parameters
      for (const row of tricky) {
        yield* conn.query("insert into ref values ($1, $2, $3, $4, $5, $6, $7, $8, $9)", row)
      }
      const copied = yield* Effect.all([
        Stream.run(Stream.fromIterable(tricky), PgCopy.rowsSink(conn, "copy tx from stdin", { format: "text" })),
        Stream.run(
          Stream.fromIterable(tricky),
          PgCopy.rowsSink(conn, "copy csv from stdin with (format csv)", { format: "csv" })
        ),
        Stream.run(
          Stream.fromIterable(tricky),
          PgCopy.rowsSink(conn, "copy bin from stdin with (format binary)", { format: "binary", types: binaryTypes })
        )
      ])
      expect(copied).toEqual([tricky.length, tricky.length, tricky.length])
      const reference = textOf(yield* Stream.runCollect(conn.copyTo("copy (select * from ref order by id) to stdout")))
      expect(reference.split("\n")).toHaveLength(tricky.length + 1)
      for (const table of ["tx", "csv", "bin"]) {
        const out = textOf(yield* Stream.runCollect(conn.copyTo(`copy (select * from ${table} order by id) to stdout`)))
        expect(out, table).toBe(reference)
        // and the same values through the extended protocol (binary results where the registry prefers them)
        const a = yield* conn.query(`select * from ${table} order by id`, [], { rowMode: "array" })
        const b = yield* conn.query("select * from ref order by id", [], { rowMode: "array" })
        expect(a.rows, table).toEqual(b.rows)
      }
      // spot checks against the values sent
      const row3 = (yield* conn.query("select * from bin where id = 3")).rows[0]!
      expect(row3.t).toBe("tab\there\nnew line\r\\back\\slash")
      expect(row3.big).toBe(9223372036854775807n)
      expect(row3.n).toBe("12345678901234567890.000000001")
      expect(row3.tags).toEqual(["a,b", "q\"uote", null, "NULL", "\\"])
      expect(row3.doc).toEqual({ s: "tab\t \"q\" \\ é 😀" })
      const row2 = (yield* conn.query("select * from csv where id = 2")).rows[0]!
      expect(row2.t).toBe("")
      expect(row2.data).toEqual(new Uint8Array([0, 92, 255, 10, 9]))
      expect(row2.tags).toEqual([""])
      expect((yield* conn.query("select n::text as n, t from tx where id = 6")).rows[0]).toEqual({ n: "NaN", t: "\\." })
      expect((yield* conn.query("select count(*)::int as n from csv where t is null")).rows).toEqual([{ n: 1 }])
      expect(conn.transactionStatus).toBe("idle")
    }))

  it.scoped("PgCopy.rows reads COPY TO text and CSV back as the values query returns", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.simpleQuery(`set timezone = 'UTC'; create temp table r (${columns})`)
      yield* Stream.run(Stream.fromIterable(tricky), PgCopy.rowsSink(conn, "copy r from stdin", { format: "text" }))
      const expected = (yield* conn.query("select * from r order by id", [], { rowMode: "array" })).rows
      for (const format of ["text", "csv"] as const) {
        const sql = `copy (select * from r order by id) to stdout${format === "csv" ? " with (format csv)" : ""}`
        const rows = yield* Stream.runCollect(PgCopy.rows(conn, sql, { format, types: binaryTypes }))
        expect(Chunk.toReadonlyArray(rows), format).toEqual(expected)
        // without types: the server's text, NULL as null
        const raw = Chunk.toReadonlyArray(yield* Stream.runCollect(PgCopy.rows(conn, sql, { format })))
        expect(raw[2]![1], format).toBe("tab\there\nnew line\r\\back\\slash")
        expect(raw[4], format).toEqual(["5", null, null, null, null, null, null, null, null])
        expect(raw[1]![1], format).toBe("")
      }
    }))

  it("encode batches rows into payloads of at least batchBytes, whatever the upstream chunking", () =>
    Effect.gen(function*() {
      // one row per upstream chunk: still ~64 KiB payloads, never one payload per row
      const rows = Stream.range(1, 20_000).pipe(
        Stream.rechunk(1),
        Stream.map((i) => [i, `name ${i}`, i % 3 === 0 ? null : new Date(i * 1000)])
      )
      const payloads = Chunk.toReadonlyArray(yield* Stream.runCollect(PgCopy.encode(rows, { format: "text" })))
      const total = payloads.reduce((n, p) => n + p.length, 0)
      expect(payloads.length).toBeGreaterThan(5)
      expect(payloads.length).toBeLessThanOrEqual(Math.ceil(total / (64 * 1024)))
      for (const p of payloads.slice(0, -1)) expect(p.length).toBeGreaterThanOrEqual(64 * 1024)
      // same bytes as the eager encoder and as copyTextRow, row by row
      const eager = PgCopy.encodeAll(
        Array.from(
          { length: 20_000 },
          (_, k) => [k + 1, `name ${k + 1}`, (k + 1) % 3 === 0 ? null : new Date((k + 1) * 1000)]
        ),
        { format: "text", batchBytes: 1000 }
      )
      expect(Either.isRight(eager)).toBe(true)
      const eagerBytes = Buffer.concat(Either.getOrThrow(eager))
      expect(eagerBytes.equals(Buffer.concat(payloads))).toBe(true)
      // the inline fast paths write what copyTextRow (registry.encodeParam) writes
      const edge: ReadonlyArray<ReadonlyArray<unknown>> = [
        [-0, 0, NaN, Infinity, 1.5e300, -123.456, 2 ** 53 + 2, 1n << 70n, true, false],
        [
          new Date(Date.UTC(2026, 0, 1, 23, 59, 59, 999)),
          new Date(Date.UTC(1970, 0, 1)),
          new Date(-1),
          new Date("0001-01-01T00:00:00.000Z"),
          new Date("0000-12-31T23:59:59.999Z"),
          new Date(Date.UTC(-4712, 0, 1, 3)),
          new Date("9999-12-31T23:59:59.999Z"),
          new Date(Date.UTC(10000, 0, 1)),
          new Date(Date.UTC(275759, 0, 1))
        ]
      ]
      // the reference: each value as a query parameter (registry.encodeParam), escaped for COPY
      const reference = (row: ReadonlyArray<unknown>): string =>
        row.map((v) => {
          const encoded = v === null ? null : PgTypes.defaultRegistry.encodeParam(v).value
          if (encoded === null) return "\\N"
          if (typeof encoded !== "string") return `\\\\x${Buffer.from(encoded).toString("hex")}`
          return encoded.replace(/[\\\n\r\t]/g, (c) =>
            c === "\\" ? "\\\\" : c === "\n" ? "\\n" : c === "\r" ? "\\r" : "\\t")
        }).join("\t") + "\n"
      for (const row of edge) {
        const ours = Buffer.concat(Either.getOrThrow(PgCopy.encodeAll([row], { format: "text" }))).toString()
        expect(ours).toBe(reference(row))
        expect(Buffer.from(PgConnection.copyTextRow(row)).toString()).toBe(reference(row))
      }
      // binary: header first, trailer last
      const bin = Buffer.concat(
        Either.getOrThrow(PgCopy.encodeAll([[1, "x"]], { format: "binary", types: ["int4", "text"] }))
      )
      expect(bin.subarray(0, 11).toString("latin1")).toBe("PGCOPY\n\xff\r\n\0")
      expect(bin.readInt16BE(bin.length - 2)).toBe(-1)
      expect(bin.length).toBe(19 + 2 + 8 + 5 + 2)
    }).pipe(Effect.runPromise))

  it.scoped("a value that cannot be encoded fails with a PgInputError naming row and column; nothing is copied", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.query("create temp table e (id int4, t text, at timestamptz)")
      const rows = Stream.range(1, 5000).pipe(
        Stream.map((i) => [i, `row ${i}`, i === 4321 ? "not a date" : new Date(i)] as ReadonlyArray<unknown>)
      )
      const binary = yield* Effect.flip(
        Stream.run(
          rows,
          PgCopy.rowsSink(conn, "copy e from stdin with (format binary)", {
            format: "binary",
            types: ["int4", "text", "timestamptz"]
          })
        )
      )
      expect(binary._tag).toBe("PgInputError")
      expect(binary.message).toContain("row 4321, column 3")
      expect(binary.message).not.toContain("not a date")
      // text: a function has no parameter form
      const text = yield* Effect.flip(
        Stream.run(
          Stream.make([1, "a", new Date()], [2, () => 1, new Date()]),
          PgCopy.rowsSink(conn, "copy e from stdin", { format: "text" })
        )
      )
      expect(text._tag).toBe("PgInputError")
      expect(text.message).toContain("row 2, column 2")
      // a wrong arity in binary
      const arity = yield* Effect.flip(
        Stream.run(
          Stream.make([1, "a"]),
          PgCopy.rowsSink(conn, "copy e from stdin with (format binary)", {
            format: "binary",
            types: ["int4", "text", "timestamptz"]
          })
        )
      )
      expect(arity.message).toContain("the row has 2 values, expected 3")
      // a type without a binary encoder is refused before the COPY starts
      const unknown = yield* Effect.flip(
        Stream.run(
          Stream.make([1]),
          PgCopy.rowsSink(conn, "copy e (id) from stdin with (format binary)", { format: "binary", types: ["point"] })
        )
      )
      expect(unknown.message).toContain("\"point\"")
      const noEncoder = yield* Effect.flip(
        Stream.run(
          Stream.make([1]),
          PgCopy.rowsSink(conn, "copy e (id) from stdin with (format binary)", { format: "binary", types: ["inet"] })
        )
      )
      expect(noEncoder.message).toContain("no binary encoder for type inet")
      // a server-side rejection (binary int8 into an int4 column) is the server's error
      const server = yield* Effect.flip(
        Stream.run(
          Stream.make([1n]),
          PgCopy.rowsSink(conn, "copy e (id) from stdin with (format binary)", { format: "binary", types: ["int8"] })
        )
      )
      expect(PgError.isServerError(server)).toBe(true)
      expect((yield* conn.query("select count(*)::int as n from e")).rows).toEqual([{ n: 0 }])
      expect(conn.transactionStatus).toBe("idle")
    }))

  it.scopedLive("interrupting a rows sink sends CopyFail: nothing copied, the backend idle, the connection usable", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.query("create temp table i (id int4, t text)")
      // enough rows for several payloads to reach the server, then a producer that never ends
      const rows = Stream.range(1, 50_000).pipe(
        Stream.map((n) => [n, `row ${n}`] as ReadonlyArray<unknown>),
        Stream.concat(Stream.never)
      )
      const fiber = yield* Effect.fork(
        Stream.run(rows, PgCopy.rowsSink(conn, "copy i from stdin with (format csv)", { format: "csv" }))
      )
      const pid = conn.backendPid
      // the COPY is running on the server
      yield* withObserver((obs) =>
        Effect.gen(function*() {
          for (let k = 0; k < 100; k++) {
            const r = yield* obs.query("select query from pg_stat_activity where pid = $1 and state = 'active'", [pid])
            if (r.rows.length === 1 && String(r.rows[0]!.query).startsWith("copy i")) return
            yield* Effect.sleep("20 millis")
          }
          throw new Error("the COPY never became active")
        })
      )
      yield* Effect.sleep("100 millis")
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect((yield* conn.query("select count(*)::int as n from i")).rows).toEqual([{ n: 0 }])
      expect(conn.isBroken).toBe(false)
      expect(conn.transactionStatus).toBe("idle")
      const state = yield* withObserver((obs) => obs.query("select state from pg_stat_activity where pid = $1", [pid]))
      expect(state.rows).toEqual([{ state: "idle" }])
      // and a next COPY on the same connection works
      const n = yield* Stream.run(
        Stream.make([1, "a"], [2, "b"]),
        PgCopy.rowsSink(conn, "copy i from stdin", { format: "text" })
      )
      expect(n).toBe(2)
    }))

  it.scopedLive("a row the server rejects fails a rows sink at once, even while the producer is idle", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.query("create temp table j (id int4 not null, t text)")
      // batchBytes 1: every row is sent at once (a row waiting in a batch has not reached the server)
      const rows = Stream.concat(Stream.make([1, "a"], [null, "b"]), Stream.never)
      const e = yield* Stream.run(
        rows,
        PgCopy.rowsSink(conn, "copy j from stdin with (format csv)", { format: "csv", batchBytes: 1 })
      ).pipe(Effect.timeout("10 seconds"), Effect.flip)
      expect(e._tag).toBe("PgNotNullViolation")
      expect((yield* conn.query("select count(*)::int as n from j")).rows).toEqual([{ n: 0 }])
      expect(conn.isBroken).toBe(false)
      expect(conn.transactionStatus).toBe("idle")
      expect((yield* conn.query("select 1 as one")).rows).toEqual([{ one: 1 }])
    }))

  it.scoped("binary numeric: random decimals read back exactly as the server parses their text", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.simpleQuery("create temp table nb (id int4, n numeric); create temp table nt (like nb)")
      let seed = 12345
      const random = (k: number) => {
        seed = (seed * 1103515245 + 12345) % 2147483648
        return seed % k
      }
      const digits = (k: number) => Array.from({ length: k }, () => String(random(10))).join("")
      const values: Array<ReadonlyArray<unknown>> = []
      for (let i = 0; i < 3000; i++) {
        const sign = ["", "-", "+"][random(3)]!
        const int = random(4) === 0 ? "0".repeat(random(6)) + digits(random(3)) : digits(random(26))
        const frac = random(3) === 0 ? "" : "." + digits(random(26)) + "0".repeat(random(3))
        const text = sign + int + frac
        values.push([i, text === sign || text === sign + "." ? "0" : text])
      }
      values.push([3000, 1e21], [3001, 1.5e-7], [3002, -0], [3003, "1E+3"], [3004, 123456789012345678901234567890n])
      const copy = (table: string, format: "text" | "binary") =>
        Stream.run(
          Stream.fromIterable(values),
          PgCopy.rowsSink(
            conn,
            `copy ${table} from stdin${format === "binary" ? " with (format binary)" : ""}`,
            format === "binary" ? { format, types: ["int4", "numeric"] } : { format }
          )
        )
      expect(yield* copy("nb", "binary")).toBe(values.length)
      expect(yield* copy("nt", "text")).toBe(values.length)
      const diff = yield* conn.query(
        "select count(*)::int as n from nb join nt using (id) where nb.n::text is distinct from nt.n::text"
      )
      expect(diff.rows).toEqual([{ n: 0 }])
      expect((yield* conn.query("select count(*)::int as n from nb join nt using (id)")).rows).toEqual([{
        n: values.length
      }])
    }))

  it("the registry's parameter encoding is used for text and CSV values", () =>
    Effect.gen(function*() {
      class Money {
        constructor(readonly cents: number) {}
      }
      const registry = PgTypes.make({
        codecs: [{
          oid: 790,
          name: "money",
          decodeText: (t) => t,
          is: (v) => v instanceof Money,
          encode: (v) => `${(v as Money).cents / 100}`
        }]
      })
      const out = Either.getOrThrow(PgCopy.encodeAll([[new Money(1234), "x"]], { format: "csv", registry }))
      expect(Buffer.concat(out).toString()).toBe("12.34,x\n")
    }).pipe(Effect.runPromise))
})
