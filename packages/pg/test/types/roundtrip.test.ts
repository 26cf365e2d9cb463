/**
 * Property round trips through a real server: a JavaScript value is encoded with `encodeParam`,
 * sent as a bound parameter, cast to the column type, and read back in both result formats; the
 * decoded value must equal the input.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as PgTypes from "../../src/PgTypes.js"
import { connect, type Wire } from "./wire.js"

let wire: Wire
beforeAll(async () => {
  wire = await connect()
})
afterAll(() => wire.end())

const registry = PgTypes.defaultRegistry
const numRuns = 60

/** encode → server (`$1::type`) → decode, in text and in binary. */
const roundTrip = async (value: unknown, type: string, reg: PgTypes.TypeRegistry = registry) => {
  const param = reg.encodeParam(value)
  const sent = param.value instanceof Uint8Array ? Buffer.from(param.value) : param.value
  const { bytes, oid, text } = await wire.value("$1", type, [sent])
  return {
    param,
    text: text === null ? null : reg.textDecoder(oid)(text),
    binary: bytes === null ? null : reg.binaryDecoder(oid)(bytes)
  }
}

const check = <A>(type: string, arb: fc.Arbitrary<A>, expected: (a: A) => unknown = (a) => a) =>
  it(type, () =>
    fc.assert(
      fc.asyncProperty(arb, async (value) => {
        const out = await roundTrip(value, type)
        expect(out.text, `text ${type}`).toEqual(expected(value))
        expect(out.binary, `binary ${type}`).toEqual(expected(value))
      }),
      { numRuns }
    ))

/** Any text PostgreSQL accepts (no NUL), weighted towards the characters array literals must escape. */
const text = fc.oneof(
  fc.string({ unit: "binary", maxLength: 30 }).filter((s) => !s.includes("\u0000")),
  fc.string({
    unit: fc.constantFrom("\"", "\\", ",", "{", "}", " ", "N", "U", "L", "a", "é", "😀", "\n", "\t", "'", ";"),
    maxLength: 12
  })
)
const yearDate = (year: number): Date => {
  const d = new Date(0)
  d.setUTCFullYear(year, 0, 1)
  return d
}
/** Every Date PostgreSQL can store, half of them in years 1-9999 (the common text shape). */
const pgDate = fc.oneof(
  fc.date({ min: yearDate(1), max: new Date(yearDate(10000).getTime() - 1), noInvalidDate: true }),
  fc.date({ min: yearDate(-4712), max: new Date(8.64e15), noInvalidDate: true })
)
const midnight = pgDate.map((d) => new Date(Math.floor(d.getTime() / 86_400_000) * 86_400_000))
const int8 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })
const float8 = fc.double()
const numeric = fc.tuple(
  fc.boolean(),
  fc.bigInt({ min: 0n, max: 10n ** 40n }),
  fc.string({ unit: fc.constantFrom(..."0123456789"), maxLength: 30 })
)
  .map(([negative, int, frac]) =>
    `${negative && (int !== 0n || /[1-9]/.test(frac)) ? "-" : ""}${int}${frac === "" ? "" : "." + frac}`
  )
const jsonObject = fc.dictionary(
  text.filter((k) => k !== "__proto__"),
  fc.jsonValue().filter((v) => !JSON.stringify(v).includes("\\u0000")),
  { maxKeys: 5 }
)
const interval = fc.record({
  months: fc.integer({ min: -1_000_000_000, max: 1_000_000_000 }),
  days: fc.integer({ min: -1_000_000_000, max: 1_000_000_000 }),
  micros: fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n })
}).map(({ days, micros, months }) => {
  const seconds = micros / 1_000_000n
  return PgTypes.Interval.make({
    months,
    days,
    seconds: Number(seconds),
    microseconds: Number(micros - seconds * 1_000_000n)
  })
})
const sameJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v))

describe("round trips of scalars", () => {
  check("bool", fc.boolean())
  check("int2", fc.integer({ min: -32768, max: 32767 }))
  check("int4", fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }))
  check("int8", int8)
  check("float8", float8)
  check("numeric", numeric)
  check("text", text)
  check("varchar", text)
  check("bytea", fc.uint8Array({ maxLength: 64 }))
  check("json", jsonObject, sameJson)
  check("jsonb", jsonObject, sameJson)
  check("uuid", fc.uuid())
  check("timestamptz", pgDate)
  check("timestamp", pgDate)
  check("date", midnight)
  check("interval", interval)
  check("oid", fc.integer({ min: 0, max: 2 ** 32 - 1 }))

  it("float4: the float4 comes back, as its shortest decimal", () =>
    fc.assert(
      fc.asyncProperty(fc.float(), async (value) => {
        const out = await roundTrip(value, "float4")
        expect(Object.is(Math.fround(out.text as number), value)).toBe(true)
        expect(out.binary).toEqual(out.text)
        expect(String(out.text).length).toBeLessThanOrEqual(String(value).length)
      }),
      { numRuns }
    ))

  it("numbers that are not integers, and NaN/±Infinity/-0, in numeric and float8 contexts", async () => {
    for (const value of [0.1, -1e-7, 1e21, 1.7976931348623157e308, 5e-324, NaN, Infinity, -Infinity, -0]) {
      const f = await roundTrip(value, "float8")
      expect(f.text).toBe(value)
      expect(f.binary).toBe(value)
    }
    for (
      const [value, expected] of [[0.1, "0.1"], [1e21, "1000000000000000000000"], [NaN, "NaN"], [
        -1e-7,
        "-0.0000001"
      ]] as const
    ) {
      expect((await roundTrip(value, "numeric")).text).toBe(expected)
    }
    expect((await roundTrip(Infinity, "numeric")).text).toBe("Infinity")
  })
})

describe("round trips of arrays", () => {
  check("text[]", fc.array(fc.option(text), { maxLength: 8 }))
  check("int4[]", fc.array(fc.option(fc.integer()), { maxLength: 8 }))
  check("int8[]", fc.array(fc.option(int8), { maxLength: 8 }))
  check("float8[]", fc.array(fc.option(float8), { maxLength: 8 }))
  check("numeric[]", fc.array(fc.option(numeric), { maxLength: 8 }))
  check("bool[]", fc.array(fc.option(fc.boolean()), { maxLength: 8 }))
  check("bytea[]", fc.array(fc.option(fc.uint8Array({ maxLength: 16 })), { maxLength: 8 }))
  check("uuid[]", fc.array(fc.uuid(), { maxLength: 8 }))
  check("timestamptz[]", fc.array(fc.option(pgDate), { maxLength: 8 }))
  check("date[]", fc.array(midnight, { maxLength: 8 }))
  check("interval[]", fc.array(fc.option(interval), { maxLength: 8 }))
  check("jsonb[]", fc.array(fc.option(jsonObject), { maxLength: 4 }), sameJson)

  const matrix = <A>(arb: fc.Arbitrary<A>) =>
    fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })).chain(([rows, cols]) =>
      fc.array(fc.array(arb, { minLength: cols, maxLength: cols }), { minLength: rows, maxLength: rows })
    )
  check("text[][]", matrix(fc.option(text)))
  check("int8[][]", matrix(fc.option(int8)))
  check(
    "int4[][][]",
    fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })).chain(([a, b]) =>
      fc.array(
        fc.array(fc.array(fc.option(fc.integer()), { minLength: b, maxLength: b }), { minLength: a, maxLength: a }),
        {
          minLength: 2,
          maxLength: 2
        }
      )
    )
  )
})

describe("text forms under other session settings", () => {
  it("intervals under IntervalStyle iso_8601 read like their binary form", async () => {
    try {
      await wire.query("set intervalstyle = 'iso_8601'")
      await fc.assert(
        fc.asyncProperty(interval, async (value) => {
          const out = await roundTrip(value, "interval")
          expect(out.text).toEqual(value)
          expect(out.binary).toEqual(value)
        }),
        { numRuns }
      )
    } finally {
      await wire.query("set intervalstyle = 'postgres'")
    }
  })

  it("time and timetz binary output formats exactly as the server's text", async () => {
    const clock = fc.record({
      seconds: fc.integer({ min: 0, max: 86_399 }),
      micros: fc.integer({ min: 0, max: 999_999 }),
      zone: fc.integer({ min: -15 * 3600 + 1, max: 15 * 3600 - 1 })
    })
    await fc.assert(
      fc.asyncProperty(clock, async ({ micros, seconds, zone }) => {
        const pad = (n: number, w = 2) => String(n).padStart(w, "0")
        const t = `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor(seconds / 60) % 60)}:${pad(seconds % 60)}.${
          pad(micros, 6)
        }`
        const z = Math.abs(zone)
        const tz = `${t}${zone < 0 ? "-" : "+"}${pad(Math.floor(z / 3600))}:${pad(Math.floor(z / 60) % 60)}:${
          pad(z % 60)
        }`
        for (const [type, literal] of [["time", t], ["timetz", tz]] as const) {
          const v = await wire.value("$1::text", type, [literal])
          expect(registry.binaryDecoder(v.oid)(v.bytes!), `${type} ${literal}`).toBe(v.text)
          expect(registry.textDecoder(v.oid)(v.text!)).toBe(v.text)
        }
      }),
      { numRuns }
    )
  })
})

describe("network addresses", () => {
  const v4 = fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, bits]) => `${a}/${bits}`)
  const v6 = fc.tuple(
    fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), {
      minLength: 8,
      maxLength: 8
    }),
    fc.integer({ min: 0, max: 128 })
  ).map(([words, bits]) => `${words.map((w) => w.toString(16)).join(":")}/${bits}`)
  const mapped = fc.tuple(fc.ipV4(), fc.boolean()).map(([a, ffff]) => `::${ffff ? "ffff:" : ""}${a}`)

  it("inet and cidr binary output formats exactly as the server's text", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(v4, v6, mapped, fc.ipV6()), async (address) => {
        for (const [expr, type] of [["$1::text", "inet"], ["network($1::inet)", "cidr"]] as const) {
          const v = await wire.value(expr, type, [address])
          expect(registry.binaryDecoder(v.oid)(v.bytes!), `${type} ${address}`).toBe(v.text)
          expect(registry.textDecoder(v.oid)(v.text!)).toBe(v.text)
        }
      }),
      { numRuns: numRuns * 3 }
    )
  })
})

describe("dates in string mode", () => {
  const strings = PgTypes.make({ dates: "string" })
  const parts = fc.record({
    year: fc.integer({ min: 1, max: 294275 }),
    bc: fc.boolean(),
    month: fc.integer({ min: 1, max: 12 }),
    day: fc.integer({ min: 1, max: 28 }),
    seconds: fc.integer({ min: 0, max: 86_399 }),
    micros: fc.integer({ min: 0, max: 999_999 })
  }).filter((p) => !p.bc || p.year <= 4713)
  const literal = (p: typeof parts extends fc.Arbitrary<infer P> ? P : never) => {
    const pad = (n: number, w = 2) => String(n).padStart(w, "0")
    const clock = `${pad(Math.floor(p.seconds / 3600))}:${pad(Math.floor(p.seconds / 60) % 60)}:${
      pad(p.seconds % 60)
    }.${pad(p.micros, 6)}`
    return `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)} ${clock}${p.bc ? " BC" : ""}`
  }

  it("binary output formats exactly as the server's ISO text, to the microsecond", async () => {
    await wire.query("set timezone = 'UTC'")
    await fc.assert(
      fc.asyncProperty(parts, async (p) => {
        for (const type of ["timestamp", "timestamptz", "date"]) {
          const v = await wire.value(`$1::text`, type, [literal(p)])
          expect(strings.binaryDecoder(v.oid)(v.bytes!), `${type} ${literal(p)}`).toBe(v.text)
          expect(strings.textDecoder(v.oid)(v.text!)).toBe(v.text)
        }
      }),
      { numRuns }
    )
  })

  it("timestamptz text in any session time zone reads as the same instant as binary", async () => {
    try {
      for (
        const zone of ["Asia/Kolkata", "America/St_Johns", "Europe/Amsterdam", "Pacific/Chatham", "America/Los_Angeles"]
      ) {
        await wire.query(`set timezone = '${zone}'`)
        await fc.assert(
          fc.asyncProperty(parts.map((p) => ({ ...p, year: 1 + (p.year % 9999) })), async (p) => {
            const v = await wire.value(`$1::text`, "timestamptz", [literal(p) + "+00"])
            expect(registry.textDecoder(v.oid)(v.text!), `${zone} ${v.text}`).toEqual(
              registry.binaryDecoder(v.oid)(v.bytes!)
            )
          }),
          { numRuns: 30 }
        )
      }
    } finally {
      await wire.query("set timezone = 'UTC'")
    }
  })

  it("Date mode floors microseconds to milliseconds, the same from text and binary", async () => {
    await wire.query("set timezone = 'UTC'")
    await fc.assert(
      fc.asyncProperty(parts.filter((p) => p.year < 275_000), async (p) => {
        for (const type of ["timestamp", "timestamptz"]) {
          const v = await wire.value(`$1::text`, type, [literal(p)])
          const fromText = registry.textDecoder(v.oid)(v.text!) as Date
          expect(registry.binaryDecoder(v.oid)(v.bytes!)).toEqual(fromText)
          expect(fromText.getUTCMilliseconds()).toBe(Math.floor(p.micros / 1000))
          expect(fromText.getUTCFullYear()).toBe(p.bc ? 1 - p.year : p.year)
        }
      }),
      { numRuns }
    )
  })
})
