/**
 * Rows as COPY data: text, CSV and binary encoders that write straight into a batch buffer, so a
 * million rows become a few hundred large CopyData payloads rather than a million small ones.
 *
 * Text and CSV values go through the registry's parameter encoder (`encodeParam`): a value is
 * written exactly as it would be sent as a text parameter, then escaped for the format. Binary
 * values need the column's type: the encoders below write each type's `typreceive` input (the
 * registry only has binary decoders).
 */
import * as BigDecimal from "effect/BigDecimal"
import type { TypeRegistry } from "../PgTypes.js"
import { toHex } from "./types/binary.js"
import { Interval } from "./types/interval.js"
import { Oid } from "./types/oids.js"

/** A value an encoder refuses; the caller turns it into a PgInputError naming row and column. */
export class Refused extends Error {}

const refuse = (why: string): never => {
  throw new Refused(why)
}

const describe = (value: unknown): string => {
  if (value === null) return "null"
  if (Array.isArray(value)) return "array"
  if (typeof value !== "object") return typeof value
  const ctor = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name
  return typeof ctor === "string" && ctor !== "" ? ctor : "object"
}

// --- the batch buffer -------------------------------------------------------------------------

/** A growable buffer; `take` hands out what was written and starts a fresh buffer. */
export class Out {
  buf: Buffer
  pos = 0

  constructor(readonly capacity: number) {
    this.buf = Buffer.allocUnsafe(capacity)
  }

  ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + extra))
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
  }

  byte(b: number): void {
    this.ensure(1)
    this.buf[this.pos++] = b
  }

  ascii(s: string): void {
    this.ensure(s.length)
    this.pos += this.buf.write(s, this.pos, "latin1")
  }

  utf8(s: string): void {
    this.ensure(s.length * 3)
    this.pos += this.buf.write(s, this.pos)
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
  }

  int16(n: number): void {
    this.ensure(2)
    this.pos = this.buf.writeInt16BE(n, this.pos)
  }

  int32(n: number): void {
    this.ensure(4)
    this.pos = this.buf.writeInt32BE(n, this.pos)
  }

  /** The 64-bit integer `hi * 2^32 + lo` (hi signed, lo unsigned). */
  int64(hi: number, lo: number): void {
    this.ensure(8)
    this.buf.writeInt32BE(hi, this.pos)
    this.pos = this.buf.writeUInt32BE(lo, this.pos + 4)
  }

  take(): Uint8Array | undefined {
    if (this.pos === 0) return undefined
    const out = this.buf.subarray(0, this.pos)
    this.buf = Buffer.allocUnsafe(this.capacity)
    this.pos = 0
    return out
  }
}

// --- text and CSV -----------------------------------------------------------------------------

const textSpecial = /[\\\n\r\t]/
const textSpecialAll = /[\\\n\r\t]/g
const textEscape = (c: string): string => (c === "\\" ? "\\\\" : c === "\n" ? "\\n" : c === "\r" ? "\\r" : "\\t")

const csvSpecial = /[",\n\r]/
const csvQuotes = /"/g

/** A non-null value as its parameter text, or its bytes for bytea. */
const paramText = (registry: TypeRegistry, value: unknown): string | Uint8Array | null => {
  const encoded = registry.encodeParam(value)
  if (encoded.format === 1 && encoded.oid !== Oid.bytea) {
    return refuse(`a binary ${registry.typeName(encoded.oid) ?? `oid ${encoded.oid}`} value has no text form`)
  }
  return encoded.value
}

export type RowEncoder = (row: ReadonlyArray<unknown>, out: Out) => void

const MS_PER_DAY = 86400000
const ISO_MIN = -62135596800000 // 0001-01-01: toISOString's plain four-digit years start here
const ISO_MAX = 253402300800000 // 10000-01-01
const pad2: ReadonlyArray<string> = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, "0"))
const pad3: ReadonlyArray<string> = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"))

/**
 * A value's parameter text, as `registry.encodeParam` gives it, with the common types done
 * inline: primitives never reach user codecs, and a `Date` (when no user codec may claim it) is
 * the same ISO text built from a per-day cached prefix.
 */
const fieldText = (registry: TypeRegistry): (value: unknown) => string | Uint8Array | null => {
  const plainDates = !(registry.options.codecs ?? []).some((codec) => codec.is !== undefined)
  let day = NaN
  let prefix = ""
  return (value) => {
    switch (typeof value) {
      case "string":
        return value
      case "number":
        return Object.is(value, -0) ? "-0" : "" + value
      case "boolean":
        return value ? "t" : "f"
      case "bigint":
        return value.toString()
      case "object":
        if (plainDates && value instanceof Date) {
          const ms = value.getTime()
          if (ms >= ISO_MIN && ms < ISO_MAX) {
            const d = Math.floor(ms / MS_PER_DAY)
            if (d !== day) {
              day = d
              prefix = new Date(d * MS_PER_DAY).toISOString().slice(0, 11)
            }
            const t = ms - d * MS_PER_DAY
            const secs = Math.floor(t / 1000)
            return `${prefix}${pad2[Math.floor(secs / 3600)]}:${pad2[Math.floor(secs / 60) % 60]}:${pad2[secs % 60]}.${
              pad3[t - secs * 1000]
            }Z`
          }
        }
    }
    return paramText(registry, value)
  }
}

/** One line per row, written with one UTF-8 write. */
export const textRow = (registry: TypeRegistry): RowEncoder => {
  const field = fieldText(registry)
  return (row, out) => {
    let line = ""
    for (let i = 0; i < row.length; i++) {
      if (i > 0) line += "\t"
      const value = row[i]
      if (value === null || value === undefined) {
        line += "\\N"
        continue
      }
      let text: string | Uint8Array | null
      try {
        text = field(value)
      } catch (e) {
        throw new ColumnError(i, e)
      }
      if (text === null) line += "\\N"
      // bytea input `\x...`, its backslash escaped for COPY
      else if (typeof text !== "string") line += "\\\\x" + toHex(text)
      else line += textSpecial.test(text) ? text.replace(textSpecialAll, textEscape) : text
    }
    out.utf8(line + "\n")
  }
}

export const csvRow = (registry: TypeRegistry): RowEncoder => {
  const field = fieldText(registry)
  return (row, out) => {
    let line = ""
    for (let i = 0; i < row.length; i++) {
      if (i > 0) line += ","
      const value = row[i]
      if (value === null || value === undefined) continue // unquoted empty: NULL
      let text: string | Uint8Array | null
      try {
        text = field(value)
      } catch (e) {
        throw new ColumnError(i, e)
      }
      if (text === null) continue
      if (typeof text !== "string") line += "\\x" + toHex(text)
      else if (text === "" || text === "\\." || csvSpecial.test(text)) {
        // quoted: the empty string (unquoted it would be NULL), the end marker, delimiters and line ends
        line += "\"" + text.replace(csvQuotes, "\"\"") + "\""
      } else line += text
    }
    out.utf8(line + "\n")
  }
}

// --- binary -----------------------------------------------------------------------------------

/** A column of a binary COPY: a type name (`int4`, `text[]`, `timestamp with time zone`) or an OID. */
export type ColumnType = string | number

/** Writes one non-null value of a type's binary input form. */
type ValueEncoder = (value: unknown, out: Out) => void

const SIGNATURE = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1")

/** Signature, flags (no OIDs), header extension length 0. */
export const binaryHeader = (out: Out): void => {
  out.bytes(SIGNATURE)
  out.int32(0)
  out.int32(0)
}

export const binaryTrailer = (out: Out): void => out.int16(-1)

const TWO32 = 4294967296
const MS_2000 = 946684800000 // 2000-01-01, PostgreSQL's epoch
const DAYS_2000 = 10957

const integerOf = (value: unknown, min: number, max: number, type: string): number => {
  let n: number
  if (typeof value === "number") n = value
  else if (typeof value === "bigint") n = Number(value)
  else if (typeof value === "string" && /^\s*[+-]?\d+\s*$/.test(value)) n = Number(value)
  else return refuse(`${type} needs an integer, got a ${describe(value)}`)
  if (!Number.isInteger(n) || n < min || n > max) return refuse(`${type} out of range or not an integer`)
  return n
}

const INT8_MIN = -(2n ** 63n)
const INT8_MAX = 2n ** 63n - 1n

const writeBigInt64 = (n: bigint, out: Out, type: string): void => {
  if (n < INT8_MIN || n > INT8_MAX) refuse(`${type} out of range`)
  out.ensure(8)
  out.pos = out.buf.writeBigInt64BE(n, out.pos)
}

const int8: ValueEncoder = (value, out) => {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) refuse("int8 needs a safe integer number (or a bigint)")
    const hi = Math.floor(value / TWO32)
    return out.int64(hi, value - hi * TWO32)
  }
  if (typeof value === "bigint") return writeBigInt64(value, out, "int8")
  if (typeof value === "string" && /^\s*[+-]?\d+\s*$/.test(value)) {
    return writeBigInt64(BigInt(value.trim()), out, "int8")
  }
  refuse(`int8 needs an integer, got a ${describe(value)}`)
}

const floatOf = (value: unknown, type: string): number => {
  if (typeof value === "number") return value
  if (typeof value === "bigint") return Number(value)
  if (typeof value === "string") {
    const t = value.trim()
    const n = t === "NaN" ? NaN : t === "Infinity" ? Infinity : t === "-Infinity" ? -Infinity : Number(t)
    if (t !== "" && (!Number.isNaN(n) || t === "NaN")) return n
  }
  return refuse(`${type} needs a number, got a ${describe(value)}`)
}

/** Milliseconds since 2000-01-01 as exact int64 microseconds. */
const timestampMicros = (value: unknown, out: Out, type: string): void => {
  if (value === Infinity) return out.int64(0x7fffffff, 0xffffffff)
  if (value === -Infinity) return out.int64(-0x80000000, 0)
  if (!(value instanceof Date)) return refuse(`${type} needs a Date (or ±Infinity), got a ${describe(value)}`)
  const ms = value.getTime()
  if (Number.isNaN(ms)) return refuse(`${type}: the Date is invalid`)
  const rel = ms - MS_2000
  const hiMs = Math.floor(rel / TWO32)
  const loMicros = (rel - hiMs * TWO32) * 1000 // < 2^42: exact
  const carry = Math.floor(loMicros / TWO32)
  out.int64(hiMs * 1000 + carry, loMicros - carry * TWO32)
}

const dateDays = (value: unknown): number => {
  if (value === Infinity) return 0x7fffffff
  if (value === -Infinity) return -0x80000000
  if (value instanceof Date) {
    const ms = value.getTime()
    if (Number.isNaN(ms)) return refuse("date: the Date is invalid")
    return Math.floor(ms / 86400000) - DAYS_2000 // the UTC calendar day, as `Date` parameters are sent
  }
  if (typeof value === "string") {
    const m = /^(\d{4,})-(\d{2})-(\d{2})$/.exec(value)
    if (m !== null) {
      const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))
      const check = new Date(ms)
      if (check.getUTCMonth() === Number(m[2]) - 1 && check.getUTCDate() === Number(m[3])) {
        return Math.floor(ms / 86400000) - DAYS_2000
      }
    }
  }
  return refuse(`date needs a Date, a YYYY-MM-DD string or ±Infinity, got a ${describe(value)}`)
}

const NUMERIC_NEG = 0x4000
const NUMERIC_NAN = 0xc000
const NUMERIC_PINF = 0xd000
const NUMERIC_NINF = 0xf000
const decimalRe = /^\s*([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/

/** The value of the decimal digits `text[from, to)`; -1 if one is not a digit. */
const digitsValue = (text: string, from: number, to: number): number => {
  let n = 0
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48
    if (d < 0 || d > 9) return -1
    n = n * 10 + d
  }
  return n
}

const scale10 = [1, 10, 100, 1000, 10000]

/**
 * The common case without a regular expression or string slicing: `[-+]digits[.digits]`, no
 * exponent, no spaces. Returns false for anything else (the general path handles it).
 */
const numericPlain = (text: string, out: Out): boolean => {
  const n = text.length
  let i = 0
  let neg = false
  const first = text.charCodeAt(0)
  if (first === 45 || first === 43) {
    neg = first === 45
    i = 1
  }
  let dot = text.indexOf(".", i)
  if (dot < 0) dot = n
  const fracLength = n - Math.min(n, dot + 1)
  if (dot === i && fracLength === 0) return false
  if (fracLength > 0x3fff) return false
  // skip leading zeros of the integer part, trailing zeros of the fraction
  let intStart = i
  while (intStart < dot && text.charCodeAt(intStart) === 48) intStart++
  let fracEnd = n
  while (fracEnd > dot + 1 && text.charCodeAt(fracEnd - 1) === 48) fracEnd--
  const groups: Array<number> = []
  let weight: number
  const intLength = dot - intStart
  if (intLength > 0) {
    let head = intLength % 4 || 4
    let at = intStart
    while (at < dot) {
      const g = digitsValue(text, at, at + head)
      if (g < 0) return false
      groups.push(g)
      at += head
      head = 4
    }
    weight = groups.length - 1
  } else weight = -1
  let at = dot + 1
  if (intLength === 0) {
    // leading all-zero groups of the fraction only lower the weight
    while (at + 4 <= fracEnd && text.charCodeAt(at) === 48 && digitsValue(text, at, at + 4) === 0) {
      at += 4
      weight--
    }
  }
  while (at < fracEnd) {
    const len = Math.min(4, fracEnd - at)
    const g = digitsValue(text, at, at + len)
    if (g < 0) return false
    groups.push(g * scale10[4 - len]!)
    at += len
  }
  // the skipped characters must be digits too
  for (let k = i; k < intStart; k++) if (text.charCodeAt(k) !== 48) return false
  for (let k = fracEnd; k < n; k++) if (text.charCodeAt(k) !== 48) return false
  let last = groups.length
  while (last > 0 && groups[last - 1] === 0) last--
  let firstNonZero = 0
  while (firstNonZero < last && groups[firstNonZero] === 0) {
    firstNonZero++
    weight--
  }
  if (firstNonZero === last) {
    numericHeader(out, 0, 0, 0, fracLength)
    return true
  }
  if (weight > 0x7fff || weight < -0x8000) return false
  numericHeader(out, last - firstNonZero, weight, neg ? NUMERIC_NEG : 0, fracLength)
  for (let k = firstNonZero; k < last; k++) out.int16(groups[k]!)
  return true
}

/** A decimal string in numeric's binary form: ndigits, weight, sign, dscale, base-10000 digits. */
export const numericBinary = (text: string, out: Out): void => {
  if (numericPlain(text, out)) return
  const special = text.trim().toLowerCase()
  if (special === "nan") return numericHeader(out, 0, 0, NUMERIC_NAN, 0)
  if (special === "infinity" || special === "+infinity" || special === "inf") {
    return numericHeader(out, 0, 0, NUMERIC_PINF, 0)
  }
  if (special === "-infinity" || special === "-inf") return numericHeader(out, 0, 0, NUMERIC_NINF, 0)
  const m = decimalRe.exec(text)
  if (m === null || (m[2] === "" && (m[3] === undefined || m[3] === ""))) {
    return refuse("numeric needs a decimal number")
  }
  const intPart = m[2]!
  const fracPart = m[3] ?? ""
  const exp = m[4] === undefined ? 0 : Number(m[4])
  if (!Number.isSafeInteger(exp) || Math.abs(exp) > 1_000_000) return refuse("numeric exponent out of range")
  const dscale = Math.max(0, fracPart.length - exp)
  if (dscale > 0x3fff) return refuse("numeric scale out of range")
  let digits = intPart + fracPart
  let point = intPart.length + exp // the decimal point sits before digits[point]
  if (point < 0) {
    digits = "0".repeat(-point) + digits
    point = 0
  }
  if (point > digits.length) digits += "0".repeat(point - digits.length)
  const lead = (4 - (point % 4)) % 4
  digits = "0".repeat(lead) + digits
  point += lead
  digits += "0".repeat((4 - (digits.length % 4)) % 4)
  const groups: Array<number> = []
  for (let i = 0; i < digits.length; i += 4) groups.push(Number(digits.slice(i, i + 4)))
  let weight = point / 4 - 1
  let first = 0
  while (first < groups.length && groups[first] === 0) {
    first++
    weight--
  }
  let last = groups.length
  while (last > first && groups[last - 1] === 0) last--
  const kept = groups.slice(first, last)
  if (kept.length === 0) return numericHeader(out, 0, 0, 0, dscale)
  if (weight > 0x7fff || weight < -0x8000) return refuse("numeric out of range")
  numericHeader(out, kept.length, weight, m[1] === "-" ? NUMERIC_NEG : 0, dscale)
  for (const g of kept) out.int16(g)
}

const numericHeader = (out: Out, ndigits: number, weight: number, sign: number, dscale: number): void => {
  out.int16(ndigits)
  out.int16(weight)
  out.ensure(4)
  out.buf.writeUInt16BE(sign, out.pos)
  out.pos = out.buf.writeUInt16BE(dscale, out.pos + 2)
}

const numeric: ValueEncoder = (value, out) => {
  if (typeof value === "string") return numericBinary(value, out)
  if (typeof value === "number") {
    return numericBinary(
      Number.isNaN(value) ? "NaN" : value === Infinity ? "Infinity" : value === -Infinity ? "-Infinity" : String(value),
      out
    )
  }
  if (typeof value === "bigint") return numericBinary(value.toString(), out)
  if (BigDecimal.isBigDecimal(value)) return numericBinary(BigDecimal.format(value), out)
  refuse(`numeric needs a string, number, bigint or BigDecimal, got a ${describe(value)}`)
}

const uuid: ValueEncoder = (value, out) => {
  if (typeof value === "string") {
    const hex = value.replace(/[-{}]/g, "")
    if (/^[0-9a-fA-F]{32}$/.test(hex)) {
      out.ensure(16)
      out.pos += out.buf.write(hex, out.pos, 16, "hex")
      return
    }
  }
  refuse(`uuid needs a UUID string, got a ${describe(value)}`)
}

/** Text-like types: the value's parameter text, as UTF-8. */
const textual = (registry: TypeRegistry, type: string): ValueEncoder => (value, out) => {
  const text = typeof value === "string" ? value : paramText(registry, value)
  if (typeof text !== "string") return refuse(`${type} needs text, got a ${describe(value)}`)
  out.utf8(text)
}

const scalarEncoders = (registry: TypeRegistry): ReadonlyMap<number, ValueEncoder> => {
  const text = textual(registry, "text")
  const json = textual(registry, "json")
  return new Map<number, ValueEncoder>([
    [Oid.bool, (v, out) => {
      if (typeof v !== "boolean") refuse(`bool needs a boolean, got a ${describe(v)}`)
      out.byte(v ? 1 : 0)
    }],
    [Oid.int2, (v, out) => out.int16(integerOf(v, -32768, 32767, "int2"))],
    [Oid.int4, (v, out) => out.int32(integerOf(v, -2147483648, 2147483647, "int4"))],
    [Oid.oid, (v, out) => out.int32(integerOf(v, 0, 4294967295, "oid") | 0)],
    [Oid.int8, int8],
    [Oid.float4, (v, out) => {
      out.ensure(4)
      out.pos = out.buf.writeFloatBE(floatOf(v, "float4"), out.pos)
    }],
    [Oid.float8, (v, out) => {
      out.ensure(8)
      out.pos = out.buf.writeDoubleBE(floatOf(v, "float8"), out.pos)
    }],
    [Oid.numeric, numeric],
    [Oid.text, text],
    [Oid.varchar, text],
    [Oid.bpchar, text],
    [Oid.name, text],
    [Oid.xml, text],
    [Oid.json, json],
    [Oid.jsonb, (v, out) => {
      out.byte(1) // jsonb binary format version
      json(v, out)
    }],
    [Oid.bytea, (v, out) => {
      if (!(v instanceof Uint8Array)) refuse(`bytea needs a Uint8Array, got a ${describe(v)}`)
      out.bytes(v as Uint8Array)
    }],
    [Oid.uuid, uuid],
    [Oid.date, (v, out) => out.int32(dateDays(v))],
    [Oid.timestamp, (v, out) => timestampMicros(v, out, "timestamp")],
    [Oid.timestamptz, (v, out) => timestampMicros(v, out, "timestamptz")],
    [Oid.interval, (v, out) => {
      if (!(v instanceof Interval)) refuse(`interval needs a PgTypes.Interval, got a ${describe(v)}`)
      const i = v as Interval
      writeBigInt64(i.totalMicroseconds, out, "interval")
      out.int32(i.days)
      out.int32(i.totalMonths)
    }]
  ])
}

/** Array OID -> element OID, from the built-in table (`_int4` is `int4[]`). */
const elementOids: ReadonlyMap<number, number> = new Map(
  Object.entries(Oid).filter(([name]) => name.startsWith("_")).map(([name, oid]) => [
    oid,
    Oid[name.slice(1) as keyof typeof Oid]
  ])
)

const arrayEncoder = (elementOid: number, element: ValueEncoder, type: string): ValueEncoder => (value, out) => {
  if (!Array.isArray(value)) return refuse(`${type} needs an array, got a ${describe(value)}`)
  const dims: Array<number> = []
  let probe: unknown = value
  while (Array.isArray(probe)) {
    dims.push(probe.length)
    if (probe.length === 0) break
    probe = probe[0]
  }
  if (dims.includes(0)) {
    if (dims.length > 1 || dims[0] !== 0) refuse(`${type}: an empty sub-array makes the array non-rectangular`)
    out.int32(0) // ndim 0: the empty array
    out.int32(0)
    out.int32(elementOid)
    return
  }
  if (dims.length > 6) refuse(`${type}: more than 6 dimensions`)
  out.int32(dims.length)
  const flagAt = out.pos
  out.int32(0)
  out.int32(elementOid)
  for (const d of dims) {
    out.int32(d)
    out.int32(1)
  }
  let hasNull = false
  const walk = (level: ReadonlyArray<unknown>, depth: number): void => {
    if (level.length !== dims[depth]) refuse(`${type}: sub-arrays of different lengths`)
    for (const v of level) {
      if (depth < dims.length - 1) {
        if (!Array.isArray(v)) refuse(`${type}: sub-arrays of different depths`)
        walk(v as ReadonlyArray<unknown>, depth + 1)
      } else if (v === null || v === undefined) {
        hasNull = true
        out.int32(-1)
      } else {
        if (Array.isArray(v)) refuse(`${type}: sub-arrays of different depths`)
        writeField(element, v, out)
      }
    }
  }
  walk(value, 0)
  if (hasNull) out.buf.writeInt32BE(1, flagAt)
}

/** Length-prefixed value: the length is patched once the value is written. */
const writeField = (encode: ValueEncoder, value: unknown, out: Out): void => {
  out.ensure(4)
  const at = out.pos
  out.pos += 4
  encode(value, out)
  out.buf.writeInt32BE(out.pos - at - 4, at)
}

const aliases: Readonly<Record<string, string>> = {
  "integer": "int4",
  "int": "int4",
  "smallint": "int2",
  "bigint": "int8",
  "boolean": "bool",
  "real": "float4",
  "double precision": "float8",
  "decimal": "numeric",
  "character varying": "varchar",
  "character": "bpchar",
  "timestamp without time zone": "timestamp",
  "timestamp with time zone": "timestamptz"
}

/** The OID of a column type given by name or OID. */
export const resolveType = (type: ColumnType): number | undefined => {
  if (typeof type === "number") return Number.isInteger(type) && type > 0 ? type : undefined
  let name = type.trim().toLowerCase()
  let array = false
  if (name.endsWith("[]")) {
    array = true
    name = name.slice(0, -2).trim()
  }
  name = aliases[name] ?? name
  if (array) name = "_" + name
  return Object.prototype.hasOwnProperty.call(Oid, name) ? Oid[name as keyof typeof Oid] : undefined
}

/** The binary row encoder for these column types, or the message saying which one has no encoder. */
export const binaryRow = (registry: TypeRegistry, types: ReadonlyArray<ColumnType>): RowEncoder | string => {
  const scalars = scalarEncoders(registry)
  const encoders: Array<ValueEncoder> = []
  for (let i = 0; i < types.length; i++) {
    const type = types[i]!
    const oid = resolveType(type)
    if (oid === undefined) return `column ${i + 1}: unknown type ${JSON.stringify(type)}`
    const scalar = scalars.get(oid)
    const elementOid = elementOids.get(oid)
    const element = elementOid === undefined ? undefined : scalars.get(elementOid)
    const name = registry.typeName(oid) ?? String(type)
    if (scalar !== undefined) encoders.push(scalar)
    else if (elementOid !== undefined && element !== undefined) {
      encoders.push(arrayEncoder(elementOid, element, name))
    } else return `column ${i + 1}: no binary encoder for type ${name} (use the text or CSV format)`
  }
  const n = encoders.length
  return (row, out) => {
    if (row.length !== n) throw new ColumnError(-1, new Refused(`the row has ${row.length} values, expected ${n}`))
    out.int16(n)
    for (let i = 0; i < n; i++) {
      const value = row[i]
      if (value === null || value === undefined) {
        out.int32(-1)
        continue
      }
      const start = out.pos
      try {
        writeField(encoders[i]!, value, out)
      } catch (e) {
        out.pos = start
        throw new ColumnError(i, e)
      }
    }
  }
}

/** An encoder failure in column `column` (0-based; -1: the row as a whole). */
export class ColumnError extends Error {
  constructor(readonly column: number, readonly reason: unknown) {
    super(reason instanceof Error ? reason.message : String(reason))
  }
}

// --- decoding COPY TO output ------------------------------------------------------------------

const textUnescape = /\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))/gs
const unescapeOne = (_: string, octal?: string, hex?: string, c?: string): string => {
  if (octal !== undefined) return String.fromCharCode(parseInt(octal, 8))
  if (hex !== undefined) return String.fromCharCode(parseInt(hex, 16))
  switch (c) {
    case "b":
      return "\b"
    case "f":
      return "\f"
    case "n":
      return "\n"
    case "r":
      return "\r"
    case "t":
      return "\t"
    case "v":
      return "\v"
    default:
      return c!
  }
}

/** One text-format line (without or with its newline) as its fields; `null` for `\N`. */
export const parseTextLine = (line: string): Array<string | null> => {
  const end = line.endsWith("\n") ? (line.endsWith("\r\n") ? line.length - 2 : line.length - 1) : line.length
  const fields = line.slice(0, end).split("\t")
  const out: Array<string | null> = new Array(fields.length)
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!
    out[i] = f === "\\N" ? null : f.includes("\\") ? f.replace(textUnescape, unescapeOne) : f
  }
  return out
}

/** One CSV record (default options: `,`, `"`, NULL as an unquoted empty field) as its fields. */
export const parseCsvRecord = (record: string): Array<string | null> => {
  const out: Array<string | null> = []
  let i = 0
  const n = record.endsWith("\r\n") ? record.length - 2 : record.endsWith("\n") ? record.length - 1 : record.length
  for (;;) {
    if (i < n && record.charCodeAt(i) === 34) {
      let value = ""
      i++
      for (;;) {
        const q = record.indexOf("\"", i)
        if (q < 0 || q >= n) throw new Refused("unterminated quoted CSV field")
        value += record.slice(i, q)
        if (record.charCodeAt(q + 1) === 34 && q + 1 < n) {
          value += "\""
          i = q + 2
        } else {
          i = q + 1
          break
        }
      }
      out.push(value)
    } else {
      const comma = record.indexOf(",", i)
      const stop = comma < 0 || comma >= n ? n : comma
      out.push(stop === i ? null : record.slice(i, stop))
      i = stop
    }
    if (i >= n) return out
    if (record.charCodeAt(i) !== 44) throw new Refused("malformed CSV record")
    i++
    if (i === n) {
      out.push(null)
      return out
    }
  }
}
