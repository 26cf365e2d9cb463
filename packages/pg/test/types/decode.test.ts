/**
 * Every built-in codec against values produced by a real server: each case is decoded from the
 * server's text output and from its binary output, and both must equal the expected value.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as PgTypes from "../../src/PgTypes.js"
import { connect, type Wire } from "./wire.js"

let wire: Wire
beforeAll(async () => {
  wire = await connect()
  await wire.query("set timezone = 'UTC'")
})
afterAll(() => wire.end())

const utc = (iso: string): Date => new Date(iso)
const yearDate = (year: number, month: number, day: number, ms = 0): Date => {
  const d = new Date(0)
  d.setUTCFullYear(year, month - 1, day)
  return new Date(d.getTime() + ms)
}
const bytes = (...b: Array<number>) => new Uint8Array(b)
const iv = (fields: PgTypes.IntervalFields) => PgTypes.Interval.make(fields)

type Case = readonly [expr: string, expected: unknown]

const cases: Record<string, ReadonlyArray<Case>> = {
  bool: [["true", true], ["false", false]],
  int2: [["-32768", -32768], ["32767", 32767], ["0", 0]],
  int4: [["-2147483648", -2147483648], ["2147483647", 2147483647], ["-1", -1]],
  int8: [
    ["-9223372036854775808", -9223372036854775808n],
    ["9223372036854775807", 9223372036854775807n],
    ["9007199254740993", 9007199254740993n],
    ["-9007199254740993", -9007199254740993n],
    ["4294967296", 4294967296n],
    ["-1", -1n],
    ["0", 0n]
  ],
  oid: [["4294967295", 4294967295], ["0", 0], ["2147483648", 2147483648]],
  float4: [
    ["0.1", 0.1],
    ["-1.5", -1.5],
    ["3.4028235e38", 3.4028235e38],
    ["1.4e-45", 1e-45],
    ["'NaN'", NaN],
    ["'Infinity'", Infinity],
    ["'-Infinity'", -Infinity],
    ["'-0'", -0]
  ],
  float8: [
    ["0.1", 0.1],
    ["1.7976931348623157e308", 1.7976931348623157e308],
    ["5e-324", 5e-324],
    ["123456789.123456789", 123456789.123456789],
    ["'NaN'", NaN],
    ["'Infinity'", Infinity],
    ["'-Infinity'", -Infinity],
    ["'-0'", -0]
  ],
  numeric: [
    ["'0.1000000000000000000000000000001'", "0.1000000000000000000000000000001"],
    ["'-123456789012345678901234567890.000000001'", "-123456789012345678901234567890.000000001"],
    ["'0'", "0"],
    ["'0.00'", "0.00"],
    ["'1e-20'", "0.00000000000000000001"],
    ["'100000000'", "100000000"],
    ["'-0.0001'", "-0.0001"],
    ["'12.5000'", "12.5000"],
    ["'9999.9999'", "9999.9999"],
    ["'NaN'", "NaN"]
  ],
  text: [["'héllo ☃ 😀'", "héllo ☃ 😀"], ["''", ""], ["'a\"b\\c,{}'", "a\"b\\c,{}"]],
  varchar: [["'abc'", "abc"]],
  "char(4)": [["'ab'", "ab  "]],
  name: [["'pg_class'", "pg_class"]],
  bytea: [["'\\x00ff10'", bytes(0, 255, 16)], ["''", bytes()], ["'\\x5c22'", bytes(92, 34)]],
  json: [["'{\"a\": [1, 2, {\"b\": null}]}'", { a: [1, 2, { b: null }] }], ["'\"s\"'", "s"]],
  jsonb: [["'{\"b\": 1, \"a\": [true, 1.5]}'", { a: [true, 1.5], b: 1 }], ["'null'", null]],
  uuid: [["'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]],
  date: [
    ["'2024-02-29'", utc("2024-02-29T00:00:00Z")],
    ["'1970-01-01'", utc("1970-01-01T00:00:00Z")],
    ["'0044-03-15 BC'", yearDate(-43, 3, 15)],
    ["'0001-01-01 BC'", yearDate(0, 1, 1)],
    ["'4713-01-01 BC'", yearDate(-4712, 1, 1)],
    ["'275760-09-13'", utc("+275760-09-13T00:00:00Z")],
    ["'infinity'", Infinity],
    ["'-infinity'", -Infinity]
  ],
  timestamp: [
    ["'2024-01-02 03:04:05.678901'", utc("2024-01-02T03:04:05.678Z")],
    ["'1999-12-31 23:59:59.999999'", utc("1999-12-31T23:59:59.999Z")],
    ["'1900-01-01 00:00:00'", utc("1900-01-01T00:00:00Z")],
    ["'0044-03-15 12:00:00.5 BC'", yearDate(-43, 3, 15, 12 * 3600_000 + 500)],
    ["'10000-01-01 00:00:00'", utc("+010000-01-01T00:00:00Z")],
    ["'infinity'", Infinity],
    ["'-infinity'", -Infinity]
  ],
  timestamptz: [
    ["'2024-01-02 03:04:05.678901+02'", utc("2024-01-02T01:04:05.678Z")],
    ["'1969-12-31 23:59:59.9999+00'", utc("1969-12-31T23:59:59.999Z")],
    ["'0001-01-01 00:00:00+00 BC'", yearDate(0, 1, 1)],
    ["'infinity'", Infinity],
    ["'-infinity'", -Infinity]
  ],
  time: [["'04:05:06.789'", "04:05:06.789"], ["'24:00:00'", "24:00:00"], ["'00:00:00.000001'", "00:00:00.000001"]],
  timetz: [
    ["'04:05:06.789-08'", "04:05:06.789-08"],
    ["'04:05:06+05:30'", "04:05:06+05:30"],
    ["'23:59:59.999999+14'", "23:59:59.999999+14"],
    ["'00:00:00+00'", "00:00:00+00"]
  ],
  interval: [
    [
      "'1 year 2 mons -3 days 04:05:06.5'",
      iv({ years: 1, months: 2, days: -3, hours: 4, minutes: 5, seconds: 6, microseconds: 500000 })
    ],
    [
      "'-1 year -2 mons +3 days -04:05:06.5'",
      iv({ years: -1, months: -2, days: 3, hours: -4, minutes: -5, seconds: -6, microseconds: -500000 })
    ],
    ["'0'", iv({})],
    ["'1.5 days'", iv({ days: 1, hours: 12 })],
    ["'36 hours'", iv({ hours: 36 })],
    ["'178956970 years 7 mons'", iv({ years: 178956970, months: 7 })],
    ["'-178956970 years -8 mons'", iv({ years: -178956970, months: -8 })],
    ["'2562047788:00:54.775807'", iv({ hours: 2562047788, seconds: 54, microseconds: 775807 })],
    ["'-2562047788:00:54.775807'", iv({ hours: -2562047788, seconds: -54, microseconds: -775807 })],
    ["'-0.000001 seconds'", iv({ microseconds: -1 })]
  ],
  inet: [["'192.168.0.1/24'", "192.168.0.1/24"], ["'::1'", "::1"], [
    "'2001:db8::ff00:42:8329'",
    "2001:db8::ff00:42:8329"
  ]],
  cidr: [["'10.0.0.0/8'", "10.0.0.0/8"]],
  macaddr: [["'08:00:2B:01:02:03'", "08:00:2b:01:02:03"]],
  "macaddr[]": [["'{08-00-2b-01-02-03,NULL}'", ["08:00:2b:01:02:03", null]]],
  "int4[]": [
    ["'{1,NULL,3}'", [1, null, 3]],
    ["'[2:3]={1,2}'", [1, 2]],
    ["'{{1,2},{3,4}}'", [[1, 2], [3, 4]]],
    ["'[0:1][1:1][-1:0]={{{1,2}},{{3,4}}}'", [[[1, 2]], [[3, 4]]]],
    ["'{}'", []],
    ["'{NULL}'", [null]]
  ],
  "text[]": [
    ["array['a\"b', 'c\\d', '', ' x ', 'NULL', null, 'x,y', '{}', 'null']", [
      "a\"b",
      "c\\d",
      "",
      " x ",
      "NULL",
      null,
      "x,y",
      "{}",
      "null"
    ]],
    ["'[-2:-1]={é,😀}'", ["é", "😀"]],
    ["array[['a','b'],[null,'d']]", [["a", "b"], [null, "d"]]]
  ],
  "varchar[]": [["'{a,b}'", ["a", "b"]]],
  "bool[]": [["'{t,f,NULL}'", [true, false, null]]],
  "int2[]": [["'{-32768,32767}'", [-32768, 32767]]],
  "int8[]": [["'{9223372036854775807,NULL,-1}'", [9223372036854775807n, null, -1n]]],
  "oid[]": [["'{1,4294967295}'", [1, 4294967295]]],
  "float4[]": [["'{0.1,NaN,-Infinity}'", [0.1, NaN, -Infinity]]],
  "float8[]": [["'{0.1,NaN,Infinity,-0}'", [0.1, NaN, Infinity, -0]]],
  "numeric[]": [["'{1.50,NaN,NULL,-0.000000000000000000001}'", ["1.50", "NaN", null, "-0.000000000000000000001"]]],
  "bytea[]": [["array['\\x00ff'::bytea, null, '']", [bytes(0, 255), null, bytes()]]],
  "json[]": [["array['{\"a\":\"x,\\\"y\"}'::json, null]", [{ a: "x,\"y" }, null]]],
  "jsonb[]": [["array['[1,{\"b\":null}]'::jsonb, 'null'::jsonb]", [[1, { b: null }], null]]],
  "uuid[]": [["'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'", ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]]],
  "date[]": [["'{2024-01-01,infinity,NULL,0044-03-15 BC}'", [
    utc("2024-01-01T00:00:00Z"),
    Infinity,
    null,
    yearDate(-43, 3, 15)
  ]]],
  "timestamp[]": [["'{\"2024-01-02 03:04:05.5\",-infinity}'", [utc("2024-01-02T03:04:05.500Z"), -Infinity]]],
  "timestamptz[]": [["'{\"2024-01-02 03:04:05+01\"}'", [utc("2024-01-02T02:04:05Z")]]],
  "time[]": [["'{04:05:06,NULL}'", ["04:05:06", null]]],
  "timetz[]": [["'{04:05:06-02:30}'", ["04:05:06-02:30"]]],
  "interval[]": [["array['1 day'::interval, '-00:00:01.5', null]", [
    iv({ days: 1 }),
    iv({ seconds: -1, microseconds: -500000 }),
    null
  ]]],
  "inet[]": [["'{10.1.2.3,::ffff:1.2.3.4}'", ["10.1.2.3", "::ffff:1.2.3.4"]]],
  "cidr[]": [["'{10.0.0.0/8}'", ["10.0.0.0/8"]]],
  "char(2)[]": [["'{a,bc}'", ["a ", "bc"]]],
  "name[]": [["'{pg_class}'", ["pg_class"]]]
}

describe("decoding real server output (default options)", () => {
  const registry = PgTypes.defaultRegistry
  for (const [type, list] of Object.entries(cases)) {
    it(type, async () => {
      for (const [expr, expected] of list) {
        const { bytes: b, oid, text } = await wire.value(expr, type)
        expect(text, `${type} ${expr}`).not.toBeNull()
        expect(registry.textDecoder(oid)(text!), `text ${type} ${expr}`).toEqual(expected)
        expect(registry.binaryDecoder(oid)(b!), `binary ${type} ${expr}`).toEqual(expected)
      }
    })
  }

  it("reads timestamptz text in any session time zone (offsets with minutes and seconds)", async () => {
    try {
      for (
        const [zone, expr, expected] of [
          ["Asia/Kolkata", "'2024-01-02 03:04:05.25+00'", utc("2024-01-02T03:04:05.250Z")],
          ["Europe/Amsterdam", "'1900-01-01 00:00:00+00'", utc("1900-01-01T00:00:00Z")],
          ["America/St_Johns", "'2024-07-01 12:00:00+00'", utc("2024-07-01T12:00:00Z")],
          ["America/Los_Angeles", "'0044-03-15 00:00:00+00 BC'", yearDate(-43, 3, 15)]
        ] as const
      ) {
        await wire.query(`set timezone = '${zone}'`)
        const { oid, text } = await wire.value(expr, "timestamptz")
        expect(registry.textDecoder(oid)(text!), `${zone} ${text}`).toEqual(expected)
      }
    } finally {
      await wire.query("set timezone = 'UTC'")
    }
  })

  it("reads every IntervalStyle except postgres_verbose", async () => {
    try {
      for (const style of ["postgres", "iso_8601"]) {
        await wire.query(`set intervalstyle = '${style}'`)
        for (const [expr, expected] of cases["interval"]!) {
          const { oid, text } = await wire.value(expr, "interval")
          expect(registry.textDecoder(oid)(text!), `${style} ${text}`).toEqual(expected)
        }
      }
      await wire.query("set intervalstyle = 'postgres_verbose'")
      const { oid, text } = await wire.value("'1 day'", "interval")
      expect(() => registry.textDecoder(oid)(text!)).toThrow(PgTypes.DecodeError)
    } finally {
      await wire.query("set intervalstyle = 'postgres'")
    }
  })

  it("reads bytea_output = escape", async () => {
    try {
      await wire.query("set bytea_output = 'escape'")
      const { oid, text } = await wire.value("'\\x00ff5c41'", "bytea")
      expect(text).toBe("\\000\\377\\\\A")
      expect(registry.textDecoder(oid)(text!)).toEqual(bytes(0, 255, 92, 65))
    } finally {
      await wire.query("set bytea_output = 'hex'")
    }
  })

  it("float4 binary decodes to the same shortest decimal as the server's text, over thousands of values", async () => {
    const values = [
      ...fc.sample(fc.float({ noNaN: true }), 3000),
      2047644.25,
      16777216,
      Math.fround(1.5e-45),
      3.4028234663852886e38
    ]
    const rows = await wire.query(
      "select x::text as t, encode(float4send(x), 'hex') as b from unnest($1::float4[]) as x",
      [`{${values.map((v) => (Object.is(v, -0) ? "-0" : String(v))).join(",")}}`]
    )
    const text = registry.textDecoder(PgTypes.Oid.float4)
    const binary = registry.binaryDecoder(PgTypes.Oid.float4)
    expect(rows.length).toBe(values.length)
    rows.forEach((row, i) => {
      const fromText = text(row["t"]!)
      expect(Object.is(binary(new Uint8Array(Buffer.from(row["b"]!, "hex"))), fromText), `${values[i]} ${row["t"]}`)
        .toBe(true)
      expect(Object.is(Math.fround(fromText as number), values[i]), `${values[i]} read back as ${row["t"]}`).toBe(true)
    })
  })

  it("numeric ±Infinity (PostgreSQL 14+)", async () => {
    for (const [expr, expected] of [["'Infinity'", "Infinity"], ["'-Infinity'", "-Infinity"]] as const) {
      const { bytes: b, oid, text } = await wire.value(expr, "numeric")
      expect(registry.textDecoder(oid)(text!)).toBe(expected)
      expect(registry.binaryDecoder(oid)(b!)).toBe(expected)
    }
  })

  it("a date beyond the JavaScript Date range is a DecodeError in date mode, exact text in string mode", async () => {
    const { bytes: b, oid, text } = await wire.value("'294276-12-31 23:59:59.999999'", "timestamp")
    expect(() => registry.textDecoder(oid)(text!)).toThrow(PgTypes.DecodeError)
    expect(() => registry.binaryDecoder(oid)(b!)).toThrow(/outside the range of a JavaScript Date/)
    const strings = PgTypes.make({ dates: "string" })
    expect(strings.textDecoder(oid)(text!)).toBe("294276-12-31 23:59:59.999999")
    expect(strings.binaryDecoder(oid)(b!)).toBe("294276-12-31 23:59:59.999999")
  })
})

describe("option modes against real server output", () => {
  it("int8: string and number", async () => {
    const asString = PgTypes.make({ int8: "string" })
    const asNumber = PgTypes.make({ int8: "number" })
    const big = await wire.value("'9223372036854775807'", "int8")
    expect(asString.textDecoder(big.oid)(big.text!)).toBe("9223372036854775807")
    expect(asString.binaryDecoder(big.oid)(big.bytes!)).toBe("9223372036854775807")
    expect(() => asNumber.textDecoder(big.oid)(big.text!)).toThrow(PgTypes.DecodeError)
    expect(() => asNumber.binaryDecoder(big.oid)(big.bytes!)).toThrow(PgTypes.DecodeError)
    const safe = await wire.value("'-9007199254740991'", "int8")
    expect(asNumber.textDecoder(safe.oid)(safe.text!)).toBe(-9007199254740991)
    expect(asNumber.binaryDecoder(safe.oid)(safe.bytes!)).toBe(-9007199254740991)
    const arr = await wire.value("'{1,NULL,-2}'", "int8[]")
    expect(asNumber.textDecoder(arr.oid)(arr.text!)).toEqual([1, null, -2])
    expect(asNumber.binaryDecoder(arr.oid)(arr.bytes!)).toEqual([1, null, -2])
  })

  it("numeric: number", async () => {
    const asNumber = PgTypes.make({ numeric: "number" })
    for (const [expr, expected] of [["'1.5'", 1.5], ["'NaN'", NaN], ["'-1e-3'", -0.001]] as const) {
      const v = await wire.value(expr, "numeric")
      expect(asNumber.textDecoder(v.oid)(v.text!)).toBe(expected)
      expect(asNumber.binaryDecoder(v.oid)(v.bytes!)).toBe(expected)
    }
  })

  it("json: string", async () => {
    const asString = PgTypes.make({ json: "string" })
    const v = await wire.value("'{\"a\": 1}'", "jsonb")
    expect(asString.textDecoder(v.oid)(v.text!)).toBe("{\"a\": 1}")
    expect(asString.binaryDecoder(v.oid)(v.bytes!)).toBe("{\"a\": 1}")
  })

  it("dates: string gives the server's text from both formats, to the microsecond", async () => {
    const strings = PgTypes.make({ dates: "string" })
    for (
      const [type, expr] of [
        ["timestamptz", "'2024-01-02 03:04:05.678901+00'"],
        ["timestamptz", "'0044-03-15 00:00:00.000001+00 BC'"],
        ["timestamp", "'1999-12-31 23:59:59.999999'"],
        ["timestamp", "'4713-01-01 00:00:00 BC'"],
        ["timestamp", "'infinity'"],
        ["date", "'0001-01-01 BC'"],
        ["date", "'5874897-12-31'"],
        ["date", "'-infinity'"],
        ["timestamptz[]", "'{\"2024-01-02 03:04:05.5+00\",NULL}'"]
      ] as const
    ) {
      const v = await wire.value(expr, type)
      expect(strings.textDecoder(v.oid)(v.text!), `${type} ${expr}`).toEqual(
        type.endsWith("[]") ? ["2024-01-02 03:04:05.5+00", null] : v.text
      )
      expect(strings.binaryDecoder(v.oid)(v.bytes!), `${type} ${expr}`).toEqual(strings.textDecoder(v.oid)(v.text!))
    }
  })
})
