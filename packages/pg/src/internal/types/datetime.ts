/**
 * date, time, timetz, timestamp, timestamptz: text (DateStyle ISO) and binary forms.
 *
 * Binary values count from PostgreSQL's epoch 2000-01-01 00:00:00 UTC: days (int32) for `date`,
 * microseconds (int64) for timestamps; the extreme int32/int64 values mean ±infinity. The
 * calendar is the proleptic Gregorian one with an astronomical year 0 (= 1 BC), like JavaScript's.
 */
import { expectLength, floorDiv64, int32, int64Parts, uint32 } from "./binary.js"
import { Malformed } from "./errors.js"

const MS_PER_DAY = 86_400_000
const PG_EPOCH_DAYS = 10_957 // 2000-01-01 - 1970-01-01 in days
/** The largest |ms since 1970| a JavaScript Date can hold. */
const DATE_MAX_MS = 8.64e15

/** Days since 1970-01-01 of a proleptic Gregorian date (astronomical year). */
export const daysFromCivil = (year: number, month: number, day: number): number => {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146_097 + doe - 719_468
}

/** The proleptic Gregorian date (astronomical year) of a day count since 1970-01-01. */
export const civilFromDays = (days: number): readonly [year: number, month: number, day: number] => {
  const z = days + 719_468
  const era = Math.floor(z / 146_097)
  const doe = z - era * 146_097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  return [era * 400 + yoe + (month <= 2 ? 1 : 0), month, day]
}

const pad2 = (n: number): string => (n < 10 ? "0" + n : String(n))
const pad4 = (n: number): string => (n < 10 ? "000" + n : n < 100 ? "00" + n : n < 1000 ? "0" + n : String(n))

/** `.ffffff` with trailing zeros removed, or "" for a whole second (as PostgreSQL prints it). */
const fraction = (micros: number): string => {
  if (micros === 0) return ""
  let s = String(micros).padStart(6, "0")
  while (s.endsWith("0")) s = s.slice(0, -1)
  return "." + s
}

const toDate = (ms: number, text: () => string): Date => {
  if (!(ms >= -DATE_MAX_MS && ms <= DATE_MAX_MS)) {
    throw new Malformed(`${text()} is outside the range of a JavaScript Date; use the "string" dates mode`)
  }
  return new Date(ms)
}

// --- text (DateStyle ISO) -------------------------------------------------------------------

const timestampRe =
  /^(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?:([+-])(\d\d)(?::?(\d\d)(?::?(\d\d))?)?|Z)?( BC)?$/
const dateRe = /^(\d{4,})-(\d\d)-(\d\d)( BC)?$/

const astronomicalYear = (digits: string, bc: string | undefined): number => {
  const year = Number(digits)
  return bc === undefined ? year : 1 - year
}

/** A decimal digit of `t` at `i`, or a value large enough to fail every range check. */
const digit = (t: string, i: number): number => {
  const c = t.charCodeAt(i) - 48
  return c >= 0 && c <= 9 ? c : 1e6
}
const two = (t: string, i: number): number => digit(t, i) * 10 + digit(t, i + 1)

/**
 * The common shape `YYYY-MM-DD HH:MM:SS[.ffffff][±HH[:MM[:SS]]]` (4-digit AD year) read without a
 * regular expression: this is every timestamp of a text-format result. Returns NaN for anything
 * else (BC, 5+ digit years, infinity, malformed), which then takes the general path.
 */
const fastTimestampMs = (t: string): number => {
  const n = t.length
  if (
    n < 19 || t.charCodeAt(4) !== 45 || t.charCodeAt(7) !== 45 || t.charCodeAt(10) !== 32 ||
    t.charCodeAt(13) !== 58 || t.charCodeAt(16) !== 58
  ) return NaN
  const year = two(t, 0) * 100 + two(t, 2)
  const month = two(t, 5)
  const day = two(t, 8)
  const hour = two(t, 11)
  const minute = two(t, 14)
  const second = two(t, 17)
  if (year > 9999 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 24 || minute > 59 || second > 60) {
    return NaN
  }
  let ms = daysFromCivil(year, month, day) * MS_PER_DAY + hour * 3_600_000 + minute * 60_000 + second * 1000
  let i = 19
  if (i < n && t.charCodeAt(i) === 46) {
    // fraction: up to 6 digits; only the first 3 reach a Date (the rest is floored away)
    const end = Math.min(n, 26)
    let scale = 100
    for (i++; i < end; i++) {
      const c = digit(t, i)
      if (c > 9) break
      ms += c * scale
      scale = scale === 1 ? 0 : scale / 10
    }
  }
  if (i < n) {
    const sign = t.charCodeAt(i)
    if ((sign !== 43 && sign !== 45) || i + 3 > n) return NaN
    let offset = two(t, i + 1) * 3600
    i += 3
    if (i < n && t.charCodeAt(i) === 58 && i + 3 <= n) {
      offset += two(t, i + 1) * 60
      i += 3
      if (i < n && t.charCodeAt(i) === 58 && i + 3 <= n) {
        offset += two(t, i + 1)
        i += 3
      }
    }
    if (offset > 86_400) return NaN
    ms -= (sign === 45 ? -offset : offset) * 1000
  }
  return i === n ? ms : NaN
}

/** Milliseconds since 1970 of an ISO timestamp text; the offset (if any) is applied. */
const timestampTextToMs = (text: string): number => {
  const fast = fastTimestampMs(text)
  if (!Number.isNaN(fast)) return fast
  const m = timestampRe.exec(text)
  if (m === null) {
    return text === "infinity"
      ? Infinity
      : text === "-infinity"
      ? -Infinity
      : (() => {
        throw new Malformed(`cannot read timestamp ${JSON.stringify(text)} (the connection must use DateStyle ISO)`)
      })()
  }
  const month = Number(m[2])
  const day = Number(m[3])
  if (month < 1 || month > 12 || day < 1 || day > 31) Malformed.throw("timestamp", text)
  const days = daysFromCivil(astronomicalYear(m[1]!, m[12]), month, day)
  const millis = m[7] === undefined ? 0 : Math.floor(Number(m[7].padEnd(6, "0")) / 1000)
  let ms = days * MS_PER_DAY + Number(m[4]) * 3_600_000 + Number(m[5]) * 60_000 + Number(m[6]) * 1000 + millis
  if (m[8] !== undefined) {
    const offset = Number(m[9]) * 3600 + Number(m[10] ?? 0) * 60 + Number(m[11] ?? 0)
    ms -= (m[8] === "-" ? -offset : offset) * 1000
  }
  return ms
}

/** timestamp/timestamptz text → Date (timestamp without time zone is read as UTC) or ±Infinity. */
export const timestampTextToDate = (text: string): Date | number => {
  const ms = timestampTextToMs(text)
  return ms === Infinity || ms === -Infinity ? ms : toDate(ms, () => text)
}

/** date text → Date at 00:00 UTC of that day, or ±Infinity. */
export const dateTextToDate = (text: string): Date | number => {
  if (text.length === 10 && text.charCodeAt(4) === 45 && text.charCodeAt(7) === 45) {
    const year = two(text, 0) * 100 + two(text, 2)
    const month = two(text, 5)
    const day = two(text, 8)
    if (year <= 9999 && month >= 1 && month <= 12 && day >= 1 && day <= 31) {
      return new Date(daysFromCivil(year, month, day) * MS_PER_DAY)
    }
  }
  const m = dateRe.exec(text)
  if (m === null) {
    if (text === "infinity") return Infinity
    if (text === "-infinity") return -Infinity
    throw new Malformed(`cannot read date ${JSON.stringify(text)} (the connection must use DateStyle ISO)`)
  }
  const month = Number(m[2])
  const day = Number(m[3])
  if (month < 1 || month > 12 || day < 1 || day > 31) Malformed.throw("date", text)
  return toDate(daysFromCivil(astronomicalYear(m[1]!, m[4]), month, day) * MS_PER_DAY, () => text)
}

// --- binary ---------------------------------------------------------------------------------

const isInfinity64 = (hi: number, lo: number): number =>
  hi === 0x7fffffff && lo === 0xffffffff ? 1 : hi === -0x80000000 && lo === 0 ? -1 : 0

/**
 * Splits microseconds since 2000 into [seconds since 1970, micros within the second]. Seconds stay
 * below 2^53 over the whole timestamp range, milliseconds would not (past the year ~287000).
 */
const timestampBinaryParts = (b: Uint8Array, at: number): readonly [seconds: number, micros: number] | number => {
  const [hi, lo] = int64Parts(b, at)
  const inf = isInfinity64(hi, lo)
  if (inf !== 0) return inf * Infinity
  const [seconds, micros] = floorDiv64(hi, lo, 1_000_000)
  return [seconds + PG_EPOCH_DAYS * 86_400, micros]
}

/** timestamp/timestamptz binary (8 bytes at `at`) → Date or ±Infinity. */
export const timestampBinaryToDate = (b: Uint8Array, at: number): Date | number => {
  const hi = int32(b, at)
  const lo = uint32(b, at + 4)
  // floor((hi * 2^32 + lo) / 1000) without leaving exact doubles (2^32 = 4294967 * 1000 + 296);
  // the hot path of every timestamp column, so no tuples here.
  const rest = hi * 296 + lo
  const ms = hi * 4_294_967 + Math.floor(rest / 1000) + PG_EPOCH_DAYS * MS_PER_DAY
  if (ms >= -DATE_MAX_MS && ms <= DATE_MAX_MS) return new Date(ms)
  const parts = timestampBinaryParts(b, at)
  if (typeof parts === "number") return parts
  const [seconds, micros] = parts
  return toDate(NaN, () => `timestamp ${formatTimestamp(seconds, micros, "")}`)
}

/** date binary (4 bytes at `at`) → Date or ±Infinity. */
export const dateBinaryToDate = (b: Uint8Array, at: number): Date | number => {
  const days = int32(b, at)
  if (days === 0x7fffffff) return Infinity
  if (days === -0x80000000) return -Infinity
  return toDate((days + PG_EPOCH_DAYS) * MS_PER_DAY, () => `date ${formatDate(days + PG_EPOCH_DAYS)}`)
}

const formatDateParts = (year: number, month: number, day: number): string =>
  `${pad4(year <= 0 ? 1 - year : year)}-${pad2(month)}-${pad2(day)}`

/** PostgreSQL's ISO text of a date given as days since 1970. */
export const formatDate = (days: number): string => {
  const [y, m, d] = civilFromDays(days)
  return formatDateParts(y, m, d) + (y <= 0 ? " BC" : "")
}

const formatClock = (secondOfDay: number, micros: number): string =>
  `${pad2(Math.floor(secondOfDay / 3600))}:${pad2(Math.floor(secondOfDay / 60) % 60)}:${pad2(secondOfDay % 60)}${
    fraction(micros)
  }`

/** PostgreSQL's ISO text of a timestamp (seconds since 1970 + micros); `zone` is "" or "+00". */
export const formatTimestamp = (seconds: number, micros: number, zone: string): string => {
  const days = Math.floor(seconds / 86_400)
  const [y, m, d] = civilFromDays(days)
  return `${formatDateParts(y, m, d)} ${formatClock(seconds - days * 86_400, micros)}${zone}${y <= 0 ? " BC" : ""}`
}

export const timestampBinaryToString = (zone: string) => (b: Uint8Array): string => {
  expectLength(b, 8, "timestamp")
  const parts = timestampBinaryParts(b, 0)
  if (typeof parts === "number") return parts > 0 ? "infinity" : "-infinity"
  return formatTimestamp(parts[0], parts[1], zone)
}

export const dateBinaryToString = (b: Uint8Array): string => {
  expectLength(b, 4, "date")
  const days = int32(b, 0)
  if (days === 0x7fffffff) return "infinity"
  if (days === -0x80000000) return "-infinity"
  return formatDate(days + PG_EPOCH_DAYS)
}

/** time: int64 microseconds since midnight. */
export const timeBinaryToString = (b: Uint8Array): string => {
  expectLength(b, 8, "time")
  const [hi, lo] = int64Parts(b, 0)
  const [seconds, micros] = floorDiv64(hi, lo, 1_000_000)
  return formatClock(seconds, micros)
}

/** timetz: int64 microseconds since midnight, then the zone as int32 seconds WEST of UTC. */
export const timetzBinaryToString = (b: Uint8Array): string => {
  expectLength(b, 12, "timetz")
  const [hi, lo] = int64Parts(b, 0)
  const [seconds, micros] = floorDiv64(hi, lo, 1_000_000)
  const west = int32(b, 8)
  const abs = Math.abs(west)
  const hh = Math.floor(abs / 3600)
  const mm = Math.floor(abs / 60) % 60
  const ss = abs % 60
  const zone = (west > 0 ? "-" : "+") + pad2(hh) + (mm !== 0 || ss !== 0 ? ":" + pad2(mm) : "") +
    (ss !== 0 ? ":" + pad2(ss) : "")
  return formatClock(seconds, micros) + zone
}

// --- parameters -----------------------------------------------------------------------------

/**
 * A Date as timestamptz input text: ISO 8601 in UTC, with PostgreSQL's ` BC` suffix for years
 * before 1 AD and plain digits for years after 9999 (JavaScript's `toISOString` writes `-000044`
 * / `+010000`, which PostgreSQL does not accept).
 */
export const dateToTimestamptzText = (date: Date): string | undefined => {
  const ms = date.getTime()
  if (Number.isNaN(ms)) return undefined
  const year = date.getUTCFullYear()
  if (year >= 1 && year <= 9999) return date.toISOString()
  const days = Math.floor(ms / MS_PER_DAY)
  const msOfDay = ms - days * MS_PER_DAY
  const [y, m, d] = civilFromDays(days)
  const s = Math.floor(msOfDay / 1000)
  return `${formatDateParts(y, m, d)}T${pad2(Math.floor(s / 3600))}:${pad2(Math.floor(s / 60) % 60)}:${pad2(s % 60)}.${
    String(msOfDay % 1000).padStart(3, "0")
  }Z${y <= 0 ? " BC" : ""}`
}
