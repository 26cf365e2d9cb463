/**
 * The built-in codecs. `format` is the result format the registry asks the server for; it was
 * chosen per type by `test/types/bench.ts` (numbers in docs/types.md): binary where it is both
 * exact and faster, text where the text is already the JavaScript value (strings) or is the
 * exact one (float4's shortest round-trip digits, numeric's decimal digits).
 */
import type { Codec } from "../../PgTypes.js"
import * as Bin from "./binary.js"
import * as DT from "./datetime.js"
import { Malformed } from "./errors.js"
import { inetBinaryToString } from "./inet.js"
import { Interval, intervalBinary, intervalText } from "./interval.js"
import { numericBinaryToString } from "./numeric.js"
import { Oid } from "./oids.js"

export interface ResolvedOptions {
  readonly int8: "bigint" | "string" | "number"
  readonly numeric: "string" | "number"
  readonly dates: "date" | "string"
  readonly json: "parse" | "string"
}

/** The decoder of types whose text is already the JavaScript value; the registry skips guarding it. */
export const identity = (text: string): string => text

const codec = (
  name: keyof typeof Oid & string,
  decodeText: (text: string) => unknown,
  decodeBinary: (bytes: Uint8Array) => unknown,
  format: 0 | 1
): Codec => {
  const arrayName = `_${name}` as keyof typeof Oid
  return { oid: Oid[name], name, arrayOid: Oid[arrayName], decodeText, decodeBinary, format }
}

const bool = (text: string): boolean => {
  if (text === "t") return true
  if (text === "f") return false
  return Malformed.throw("bool", text)
}

/**
 * Whether `text` looks like int2/int4/int8out output. Number() and BigInt() reject most garbage
 * but accept "", surrounding whitespace, exponents and 0x/0o/0b prefixes.
 */
const integerShaped = (text: string): boolean => {
  const first = text.charCodeAt(0)
  const last = text.charCodeAt(text.length - 1)
  return ((first >= 48 && first <= 57) || first === 45) && last >= 48 && last <= 57 &&
    !(first === 48 && text.length > 1) && !text.includes("e")
}

const integer = (text: string): number => {
  const n = Number(text)
  if (!integerShaped(text) || !Number.isInteger(n)) Malformed.throw("integer", text)
  return n
}

const float = (text: string): number => {
  const n = Number(text)
  // Number("") is 0 and Number(" 1") is 1: only accept what PostgreSQL prints.
  if ((Number.isNaN(n) && text !== "NaN") || text.length === 0 || text.charCodeAt(0) <= 32) {
    Malformed.throw("float", text)
  }
  return n
}

const int8ToNumber = (n: number | bigint): number => {
  if (typeof n === "bigint" ? n > 9007199254740991n || n < -9007199254740991n : !Number.isSafeInteger(n)) {
    throw new Malformed(`int8 ${n} does not fit a JavaScript number exactly; use int8: "bigint" or "string"`)
  }
  return Number(n)
}

const int8Text = (text: string): bigint => {
  if (!integerShaped(text)) Malformed.throw("int8", text)
  return BigInt(text)
}

/** bytea text output: `\x` hex (the default bytea_output) or the legacy escape format. */
export const byteaText = (text: string): Uint8Array => {
  if (text.startsWith("\\x")) {
    const out = Bin.fromHex(text, 2)
    return out ?? Malformed.throw("bytea", text)
  }
  const out: Array<number> = []
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c !== 92) {
      out.push(c)
    } else if (text.charCodeAt(i + 1) === 92) {
      out.push(92)
      i++
    } else {
      const octal = text.slice(i + 1, i + 4)
      if (!/^[0-3][0-7]{2}$/.test(octal)) Malformed.throw("bytea", text)
      out.push(parseInt(octal, 8))
      i += 3
    }
  }
  return Uint8Array.from(out)
}

const uuidBinary = (b: Uint8Array): string => {
  Bin.expectLength(b, 16, "uuid")
  return `${Bin.toHex(b, 0, 4)}-${Bin.toHex(b, 4, 6)}-${Bin.toHex(b, 6, 8)}-${Bin.toHex(b, 8, 10)}-${
    Bin.toHex(b, 10, 16)
  }`
}

const jsonbBinary = (b: Uint8Array): string => {
  if (b[0] !== 1) throw new Malformed(`unsupported binary jsonb version ${b[0]}`)
  return Bin.utf8(b.subarray(1))
}

/**
 * Fixed-width binary readers by codec: arrays of these types read their elements in place
 * instead of making a view per element (the benchmark's int4[]/int8[]/timestamptz[] rows).
 */
export interface FixedWidth {
  readonly size: number
  readonly read: (b: Uint8Array, at: number) => unknown
}
const readers = new WeakMap<(bytes: Uint8Array) => unknown, FixedWidth>()

/** The in-place reader behind a built-in binary decoder, if it is a fixed-width one. */
export const fixedWidth = (decode: (bytes: Uint8Array) => unknown): FixedWidth | undefined => readers.get(decode)

const fixed = (
  name: string,
  size: number,
  read: (b: Uint8Array, at: number) => unknown
): (bytes: Uint8Array) => unknown => {
  const decode = (b: Uint8Array): unknown => {
    Bin.expectLength(b, size, name)
    return read(b, 0)
  }
  readers.set(decode, { size, read })
  return decode
}

const int8Number = (b: Uint8Array, at: number): number => {
  const hi = Bin.int32(b, at)
  if (hi < -0x200000 || hi >= 0x200000) return int8ToNumber(Bin.int64BigInt(b, at))
  return hi * 4294967296 + Bin.uint32(b, at + 4)
}
const float4Binary = (b: Uint8Array): number => {
  Bin.expectLength(b, 4, "float4")
  return shortestFloat4(Bin.float32(b, 0))
}
const f32 = new Float32Array(1)
const f32Bits = new Int32Array(f32.buffer)
const float4WithBits = (bits: number): number => {
  f32Bits[0] = bits
  return f32[0]!
}

/**
 * The shortest decimal that reads back as the same float4: what PostgreSQL 12+ prints (its
 * Ryu-based `float4out`), so text and binary float4 decode to the same number. Like Ryu in
 * PostgreSQL, a candidate must lie strictly between the midpoints to the neighbouring float4s;
 * among two candidates of the same length the closer wins, an exact tie goes to the even digit.
 */
export const shortestFloat4 = (x: number): number => {
  if (!Number.isFinite(x) || x === 0) return x
  const abs = Math.abs(x)
  f32[0] = abs
  const bits = f32Bits[0]!
  const lowMid = (abs + float4WithBits(bits - 1)) / 2
  const next = float4WithBits(bits + 1)
  // Above the largest float4 the next step would be one more ulp of the same size.
  const highMid = next === Infinity ? abs + (abs - float4WithBits(bits - 1)) / 2 : (abs + next) / 2
  const inside = (c: number): boolean => c > lowMid && c < highMid
  const sign = x < 0 ? -1 : 1
  for (let p = 1; p <= 9; p++) {
    // toExponential rounds to the nearest p-digit decimal, halves upward.
    const s = abs.toExponential(p - 1)
    const e = s.indexOf("e")
    const mantissa = Number(s[0]! + s.slice(2, e))
    const scale = `e${Number(s.slice(e + 1)) - p + 1}`
    const nearest = Number(s)
    if (inside(nearest)) {
      // An exact tie (x has p+1 digits ending in 5) goes to the even digit, as in Ryu.
      const finer = abs.toExponential(p)
      const lower = Number(mantissa - 1 + scale)
      if (mantissa % 2 === 1 && finer[finer.indexOf("e") - 1] === "5" && Number(finer) === abs && inside(lower)) {
        return sign * lower
      }
      return sign * nearest
    }
    // Near a power of two the interval is lopsided: the other neighbour may fit where the nearest does not.
    const other = Number((nearest > abs ? mantissa - 1 : mantissa + 1) + scale)
    if (inside(other)) return sign * other
  }
  return x
}
const copyBytes = (b: Uint8Array): Uint8Array => b.slice()
const macaddrBinary = (b: Uint8Array): string => {
  Bin.expectLength(b, 6, "macaddr")
  return Array.from(b, (x) => Bin.toHex(Uint8Array.of(x))).join(":")
}

export const builtinCodecs = (o: ResolvedOptions): ReadonlyArray<Codec> => {
  const json = o.json === "parse" ? (text: string): unknown => JSON.parse(text) : identity
  const dateMode = o.dates === "date"
  return [
    codec("bool", bool, fixed("bool", 1, (b, at) => b[at] !== 0), 1),
    codec("int2", integer, fixed("int2", 2, Bin.int16), 1),
    codec("int4", integer, fixed("int4", 4, Bin.int32), 1),
    o.int8 === "bigint"
      ? codec("int8", int8Text, fixed("int8", 8, Bin.int64BigInt), 1)
      : o.int8 === "string"
      ? codec("int8", identity, fixed("int8", 8, (b, at) => String(Bin.int64BigInt(b, at))), 0)
      : codec("int8", (t) => int8ToNumber(int8Text(t)), fixed("int8", 8, int8Number), 1),
    codec("oid", integer, fixed("oid", 4, Bin.uint32), 1),
    codec("float4", float, float4Binary, 0),
    codec("float8", float, fixed("float8", 8, Bin.float64), 1),
    o.numeric === "string"
      ? codec("numeric", identity, numericBinaryToString, 0)
      : codec("numeric", float, (b) => Number(numericBinaryToString(b)), 0),
    codec("text", identity, Bin.utf8, 0),
    codec("varchar", identity, Bin.utf8, 0),
    codec("bpchar", identity, Bin.utf8, 0),
    codec("name", identity, Bin.utf8, 0),
    codec("char", identity, Bin.utf8, 0),
    codec("xml", identity, Bin.utf8, 0),
    codec("bytea", byteaText, copyBytes, 1),
    codec("json", json, (b) => json(Bin.utf8(b)), 0),
    codec("jsonb", json, (b) => json(jsonbBinary(b)), 0),
    codec("uuid", identity, uuidBinary, 0),
    dateMode
      ? codec("date", DT.dateTextToDate, fixed("date", 4, DT.dateBinaryToDate), 1)
      : codec("date", identity, DT.dateBinaryToString, 0),
    dateMode
      ? codec("timestamp", DT.timestampTextToDate, fixed("timestamp", 8, DT.timestampBinaryToDate), 1)
      : codec("timestamp", identity, DT.timestampBinaryToString(""), 0),
    dateMode
      ? codec("timestamptz", DT.timestampTextToDate, fixed("timestamptz", 8, DT.timestampBinaryToDate), 1)
      : codec("timestamptz", identity, DT.timestampBinaryToString("+00"), 0),
    codec("time", identity, DT.timeBinaryToString, 0),
    codec("timetz", identity, DT.timetzBinaryToString, 0),
    codec("interval", intervalText, fixed("interval", 16, intervalBinary), 1),
    codec("inet", identity, inetBinaryToString, 0),
    codec("cidr", identity, inetBinaryToString, 0),
    codec("macaddr", identity, macaddrBinary, 0),
    codec("regproc", identity, copyBytes, 0),
    codec("regclass", identity, copyBytes, 0),
    codec("xid", integer, fixed("xid", 4, Bin.uint32), 0),
    codec("cid", integer, fixed("cid", 4, Bin.uint32), 0)
  ]
}

export { Interval }
