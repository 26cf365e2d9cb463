/**
 * Registry behaviour: parameter encoding rules and errors, result formats, unknown types,
 * malformed input, and user codecs by OID and by name (names resolved on a real server).
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { BigDecimal, Redacted } from "effect"
import * as PgTypes from "../../src/PgTypes.js"
import { connect, type Wire } from "./wire.js"

const registry = PgTypes.defaultRegistry
const { Oid } = PgTypes
const encode = registry.encodeParam

describe("encodeParam", () => {
  it("scalars go as text with OID 0, spelled the way PostgreSQL reads them", () => {
    expect(encode(null)).toEqual({ oid: 0, format: 0, value: null })
    expect(encode(undefined)).toEqual({ oid: 0, format: 0, value: null })
    expect(encode("x")).toEqual({ oid: 0, format: 0, value: "x" })
    expect(encode(42)).toEqual({ oid: 0, format: 0, value: "42" })
    expect(encode(0.1).value).toBe("0.1")
    expect(encode(-0).value).toBe("-0")
    expect(encode(NaN).value).toBe("NaN")
    expect(encode(Infinity).value).toBe("Infinity")
    expect(encode(-Infinity).value).toBe("-Infinity")
    expect(encode(2n ** 64n).value).toBe("18446744073709551616")
    expect(encode(true).value).toBe("t")
    expect(encode(false).value).toBe("f")
    expect(encode(BigDecimal.unsafeFromString("123.4500")).value).toBe("123.45")
  })

  it("Date goes as ISO timestamptz text, BC and five-digit years spelled for PostgreSQL", () => {
    expect(encode(new Date("2024-01-02T03:04:05.678Z")).value).toBe("2024-01-02T03:04:05.678Z")
    const bc = new Date(0)
    bc.setUTCFullYear(-43, 2, 15)
    expect(encode(bc).value).toBe("0044-03-15T00:00:00.000Z BC")
    expect(encode(new Date("+010000-01-01T00:00:00Z")).value).toBe("10000-01-01T00:00:00.000Z")
    expect(() => encode(new Date(NaN))).toThrow(PgTypes.EncodeError)
  })

  it("bytes go as binary bytea", () => {
    const bytes = new Uint8Array([1, 2, 3])
    expect(encode(bytes)).toEqual({ oid: Oid.bytea, format: 1, value: bytes })
    expect(encode(Buffer.from([1]))).toMatchObject({ oid: Oid.bytea, format: 1 })
    expect(encode(new Uint8Array([9]).buffer)).toEqual({ oid: Oid.bytea, format: 1, value: new Uint8Array([9]) })
  })

  it("arrays go as quoted array literals, nested, with NULLs", () => {
    expect(encode([]).value).toBe("{}")
    expect(encode([1, null, undefined, "a\"b\\c", ""]).value).toBe("{\"1\",NULL,NULL,\"a\\\"b\\\\c\",\"\"}")
    expect(encode([[1, 2], [3, null]]).value).toBe("{{\"1\",\"2\"},{\"3\",NULL}}")
    expect(encode(["NULL"]).value).toBe("{\"NULL\"}")
    expect(encode([new Uint8Array([0, 255])]).value).toBe("{\"\\\\x00ff\"}")
    expect(encode([{ a: "," }]).value).toBe("{\"{\\\"a\\\":\\\",\\\"}\"}")
    expect(encode([true, 1n]).value).toBe("{\"t\",\"1\"}")
  })

  it("plain objects and objects with toJSON go as JSON text", () => {
    expect(encode({ a: [1, null] })).toEqual({ oid: 0, format: 0, value: "{\"a\":[1,null]}" })
    expect(encode(Object.assign(Object.create(null), { x: 1 })).value).toBe("{\"x\":1}")
    class WithJson {
      toJSON() {
        return { v: 1 }
      }
    }
    expect(encode(new WithJson()).value).toBe("{\"v\":1}")
  })

  it("intervals go as interval text", () => {
    const i = PgTypes.Interval.make({ years: 1, days: -2, seconds: 3, microseconds: 4 })
    expect(encode(i)).toEqual({
      oid: Oid.interval,
      format: 0,
      value: "1 years 0 mons -2 days 0 hours 0 mins 3 secs 4 microseconds"
    })
  })

  it("typed pins the OID", () => {
    expect(encode(PgTypes.typed(5n, Oid.int8))).toEqual({ oid: Oid.int8, format: 0, value: "5" })
    expect(encode(PgTypes.typed(null, Oid.int4))).toEqual({ oid: Oid.int4, format: 0, value: null })
    expect(encode(PgTypes.typed([1, 2], Oid._int4))).toEqual({ oid: Oid._int4, format: 0, value: "{\"1\",\"2\"}" })
  })

  it("everything else is a typed EncodeError naming the type and position, never the value", () => {
    const cases: Array<[unknown, string, string]> = [
      [new Map([["secret", 1]]), "Map", ""],
      [new Set(), "Set", ""],
      [() => 1, "function", ""],
      [Symbol("s"), "symbol", ""],
      [new Int32Array(1), "Int32Array", ""],
      [{ big: 1n }, "Object", ""],
      [[1, [2, new Map()]], "Map", "[1][1]"],
      [Redacted.make("secret"), "RedactedImpl", ""],
      [[PgTypes.typed(1, 23)], "Typed", "[0]"]
    ]
    for (const [value, valueType, path] of cases) {
      try {
        encode(value)
        expect.fail(`encoded ${valueType}`)
      } catch (e) {
        expect(e).toBeInstanceOf(PgTypes.EncodeError)
        const err = e as PgTypes.EncodeError
        expect(err._tag).toBe("PgEncodeError")
        expect(err.path).toBe(path)
        if (valueType !== "RedactedImpl") expect(err.valueType).toBe(valueType)
        expect(err.message).not.toContain("secret")
      }
    }
    const cyclic: Record<string, unknown> = {}
    cyclic["self"] = cyclic
    expect(() => encode(cyclic)).toThrow(/JSON.stringify failed/)
  })
})

describe("decoders and formats", () => {
  it("unknown types decode as text and raw bytes, requested as text", () => {
    expect(registry.textDecoder(999_999)("anything")).toBe("anything")
    const bytes = new Uint8Array([1, 2])
    const raw = registry.binaryDecoder(999_999)(bytes) as Uint8Array
    expect(raw).toEqual(bytes)
    expect(raw).not.toBe(bytes) // a copy: the input is a view on the receive buffer
    expect(registry.resultFormat(999_999)).toBe(0)
  })

  it("requests binary only where it is faster and exact", () => {
    const binary = [
      "bool",
      "int2",
      "int4",
      "int8",
      "oid",
      "float8",
      "bytea",
      "date",
      "timestamp",
      "timestamptz",
      "interval"
    ]
    for (const [name, oid] of Object.entries(Oid)) {
      const base = name.startsWith("_") ? name.slice(1) : name
      expect(registry.resultFormat(oid), name).toBe(binary.includes(base) ? 1 : 0)
    }
    const strings = PgTypes.make({ dates: "string", int8: "string" })
    for (const oid of [Oid.int8, Oid.date, Oid.timestamp, Oid.timestamptz, Oid._timestamptz]) {
      expect(strings.resultFormat(oid)).toBe(0)
    }
    const textOnly = PgTypes.make({ binary: false })
    for (const oid of Object.values(Oid)) expect(textOnly.resultFormat(oid)).toBe(0)
  })

  it("keeps nothing of the receive buffer: bytea and raw values are copies", () => {
    const buffer = new Uint8Array([9, 1, 2, 3, 9])
    const view = buffer.subarray(1, 4)
    const bytea = registry.binaryDecoder(Oid.bytea)(view) as Uint8Array
    const byteaArray = registry.binaryDecoder(Oid._bytea)(
      new Uint8Array([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 17, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 7, 8])
    ) as Array<Uint8Array>
    buffer.fill(0)
    expect(bytea).toEqual(new Uint8Array([1, 2, 3]))
    expect(byteaArray).toEqual([new Uint8Array([7, 8])])
    expect(byteaArray[0]!.buffer.byteLength).toBe(2)
  })

  it("resolves each decoder once", () => {
    expect(registry.textDecoder(Oid.int4)).toBe(registry.textDecoder(Oid.int4))
    expect(registry.binaryDecoder(Oid._int8)).toBe(registry.binaryDecoder(Oid._int8))
    expect(registry.typeName(Oid._timestamptz)).toBe("timestamptz[]")
    expect(registry.typeName(12345678)).toBeUndefined()
  })

  it("malformed input is a DecodeError naming the type", () => {
    const bad: Array<[number, string]> = [
      [Oid.bool, "yes"],
      [Oid.int4, "1.5"],
      [Oid.int4, ""],
      [Oid.int4, " 1"],
      [Oid.int4, "1e3"],
      [Oid.int2, "0x10"],
      [Oid.float8, ""],
      [Oid.float8, " 1"],
      [Oid.int8, "1e3"],
      [Oid.float8, "abc"],
      [Oid.bytea, "\\xabc"],
      [Oid.bytea, "\\9"],
      [Oid.json, "{"],
      [Oid.timestamptz, "Wed Dec 17 07:37:16 1997 PST"],
      [Oid.date, "12/17/1997"],
      [Oid.date, "2024-13-01"],
      [Oid.timestamp, "2024-13-01 00:00:00"],
      [Oid.timestamp, "2024-01-01 00:00:0x"],
      [Oid.timestamp, "2024-01-01 00:00:00+0"],
      [Oid.timestamp, "2024-01-01 00:00:00 "],
      [Oid.int8, " 1"],
      [Oid.int8, "0x10"],
      [Oid.int8, ""],
      [Oid.interval, "1 fortnight"],
      [Oid._int4, "{1,2"],
      [Oid._int4, "1,2}"],
      [Oid._text, "{\"a}"],
      [Oid._int4, "{1}x"]
    ]
    for (const [oid, text] of bad) {
      expect(() => registry.textDecoder(oid)(text), `${oid} ${text}`).toThrow(PgTypes.DecodeError)
    }
    try {
      registry.textDecoder(Oid.timestamptz)("Wed Dec 17 07:37:16 1997 PST")
    } catch (e) {
      expect((e as PgTypes.DecodeError).typeName).toBe("timestamptz")
      expect((e as PgTypes.DecodeError).message).toMatch(/DateStyle ISO/)
    }
    const badBinary: Array<[number, Array<number>]> = [
      [Oid.int4, [0, 0, 1]],
      [Oid.int8, []],
      [Oid.uuid, [1]],
      [Oid.numeric, [0, 1]],
      [Oid.jsonb, [2, 123, 125]],
      [Oid._int4, [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 23, 0, 0, 0, 5, 0, 0, 0, 1]],
      [Oid._int4, [0, 0, 0, 1]],
      [Oid._int4, [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 23, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1]],
      [Oid._int4, [0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 23, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1]],
      [Oid._int4, [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 23, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1]]
    ]
    for (const [oid, bytes] of badBinary) {
      expect(() => registry.binaryDecoder(oid)(new Uint8Array(bytes)), `${oid} ${bytes}`).toThrow(PgTypes.DecodeError)
    }
  })

  it("array literals: delimiters, whitespace-free quoting, bounds, nesting", () => {
    const texts = registry.textDecoder(Oid._text)
    expect(texts("{a,\"b c\",\"\\\\\",NULL,\"NULL\",null}")).toEqual(["a", "b c", "\\", null, "NULL", null])
    expect(texts("[1:2][3:4]={{a,b},{c,d}}")).toEqual([["a", "b"], ["c", "d"]])
    const box = PgTypes.make({
      codecs: [{ oid: 603, arrayOid: 1020, name: "box", decodeText: (t) => t, delimiter: ";" }]
    })
    expect(box.textDecoder(1020)("{(1,1),(0,0);(2,2),(1,1)}")).toEqual(["(1,1),(0,0)", "(2,2),(1,1)"])
  })
})

describe("Interval", () => {
  it("normalizes like the server and prints ISO 8601", () => {
    const i = PgTypes.Interval.make({ years: 1, months: 14, hours: 25, minutes: 61, seconds: -1, microseconds: 1 })
    expect({ ...i }).toEqual({ years: 2, months: 2, days: 0, hours: 26, minutes: 0, seconds: 59, microseconds: 1 })
    expect(i.totalMonths).toBe(26)
    expect(i.totalMicroseconds).toBe(93_659_000_001n)
    expect(i.toString()).toBe("P2Y2MT26H59.000001S")
    expect(PgTypes.Interval.make({ seconds: -1, microseconds: 500_000 }).toString()).toBe("PT-0.5S")
    expect(PgTypes.Interval.make({}).toString()).toBe("PT0S")
    expect(JSON.stringify({ i: PgTypes.Interval.make({ days: 3 }) })).toBe("{\"i\":\"P3D\"}")
    expect(() => PgTypes.Interval.make({ days: 1.5 })).toThrow(RangeError)
  })
})

describe("user codecs (real server)", () => {
  let wire: Wire
  beforeAll(async () => {
    wire = await connect()
    await wire.query("create type mood as enum ('happy', 'sad', 'so-so')")
    await wire.query("create schema other")
    await wire.query("create type other.mood as enum ('x')")
  })
  afterAll(() => wire.end())

  class Point {
    constructor(readonly x: number, readonly y: number) {}
  }
  const point: PgTypes.Codec = {
    oid: 600,
    arrayOid: 1017,
    name: "point",
    decodeText: (text) => {
      const [x, y] = text.slice(1, -1).split(",").map(Number)
      return new Point(x!, y!)
    },
    is: (value) => value instanceof Point,
    encode: (value) => `(${(value as Point).x},${(value as Point).y})`
  }

  it("by OID: decodes the type and its arrays, encodes the values it claims with its OID", async () => {
    const reg = PgTypes.make({ codecs: [point] })
    const param = reg.encodeParam(new Point(1.5, -2))
    expect(param).toEqual({ oid: 600, format: 0, value: "(1.5,-2)" })
    const v = await wire.value("$1", "point", [param.value])
    expect(reg.textDecoder(v.oid)(v.text!)).toEqual(new Point(1.5, -2))
    const arr = await wire.value("$1", "point[]", [reg.encodeParam([new Point(0, 0), null]).value])
    expect(reg.textDecoder(arr.oid)(arr.text!)).toEqual([new Point(0, 0), null])
    // Without the codec the same values are plain text, and a Point is refused rather than sent as {}.
    expect(registry.textDecoder(v.oid)(v.text!)).toBe("(1.5,-2)")
    expect(() => registry.encodeParam(new Point(1, 2))).toThrow(PgTypes.EncodeError)
  })

  it("a user codec replaces a built-in one", () => {
    const reg = PgTypes.withCodecs(registry, [{ oid: Oid.int4, name: "int4", decodeText: (t) => `#${t}` }])
    expect(reg.textDecoder(Oid.int4)("7")).toBe("#7")
    expect(reg.textDecoder(Oid._int4)("{7}")).toEqual(["#7"])
    expect(reg.resultFormat(Oid.int4)).toBe(0)
    expect(reg.textDecoder(Oid.int8)("7")).toBe(7n)
  })

  it("by name: resolved through namedTypesQuery, arrays included, search_path and schema-qualified", async () => {
    const rows = await wire.query(PgTypes.namedTypesQuery, [["mood", "other.mood", "nonexistent"]])
    const oids = PgTypes.namedTypesFromRows(
      rows.map((r) => ({ name: r["name"]!, oid: Number(r["oid"]), array_oid: Number(r["array_oid"]) }))
    )
    expect([...oids.keys()].sort()).toEqual(["mood", "other.mood"])
    const reg = PgTypes.withNamedCodecs(
      registry,
      [
        { name: "mood", decodeText: (t) => t.toUpperCase() },
        { name: "other.mood", decodeText: (t) => `other:${t}` }
      ],
      oids
    )
    const one = await wire.value("'so-so'", "mood")
    expect(reg.textDecoder(one.oid)(one.text!)).toBe("SO-SO")
    const many = await wire.value("'{happy,NULL,sad}'", "mood[]")
    expect(reg.textDecoder(many.oid)(many.text!)).toEqual(["HAPPY", null, "SAD"])
    const other = await wire.value("'x'", "other.mood")
    expect(reg.textDecoder(other.oid)(other.text!)).toBe("other:x")
    expect(() => PgTypes.withNamedCodecs(registry, [{ name: "nonexistent", decodeText: String }], oids)).toThrow(
      PgTypes.TypeNotFoundError
    )
    const byNumber = PgTypes.withNamedCodecs(
      registry,
      [{ name: "mood", decodeText: () => 1 }],
      new Map([["mood", one.oid]])
    )
    expect(byNumber.textDecoder(one.oid)("happy")).toBe(1)
  })

  it("a throwing user decoder surfaces as a DecodeError", () => {
    const reg = PgTypes.make({
      codecs: [{
        oid: 600,
        name: "point",
        decodeText: () => {
          throw new Error("nope")
        }
      }]
    })
    expect(() => reg.textDecoder(600)("(1,2)")).toThrow(/cannot decode a point value \(oid 600\): nope/)
  })

  it("rejects codecs with invalid OIDs or delimiters", () => {
    expect(() => PgTypes.make({ codecs: [{ oid: 0, name: "x", decodeText: String }] })).toThrow(RangeError)
    expect(() => PgTypes.make({ codecs: [{ oid: 1, name: "x", decodeText: String, delimiter: ";;" }] })).toThrow(
      RangeError
    )
  })
})
