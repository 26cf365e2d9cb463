/**
 * `interval`. PostgreSQL stores three independent fields — months (int32), days (int32) and
 * microseconds (int64) — and never converts between them (a month is not 30 days, a day is not
 * 24 hours across a DST change). The JavaScript shape keeps exactly that information, split into
 * the units PostgreSQL prints: years/months from the months, days, and hours/minutes/seconds/
 * microseconds from the microseconds, each part carrying the sign of the field it came from.
 */
import { floorDiv64, int32, int64Parts } from "./binary.js"
import { Malformed } from "./errors.js"

/** Fields accepted by `Interval.make`; every one defaults to 0. */
export interface IntervalFields {
  readonly years?: number
  readonly months?: number
  readonly days?: number
  readonly hours?: number
  readonly minutes?: number
  readonly seconds?: number
  readonly microseconds?: number
}

/**
 * A PostgreSQL `interval`, normalized the way the server stores it.
 */
export class Interval {
  readonly years: number
  readonly months: number
  readonly days: number
  readonly hours: number
  readonly minutes: number
  readonly seconds: number
  /** The sub-second part, -999_999 ... 999_999, with the sign of the time part. */
  readonly microseconds: number

  private constructor(totalMonths: number, days: number, secondsTotal: number, micros: number) {
    this.years = Math.trunc(totalMonths / 12) + 0
    this.months = (totalMonths % 12) + 0
    this.days = days + 0
    this.hours = Math.trunc(secondsTotal / 3600) + 0
    this.minutes = (Math.trunc(secondsTotal / 60) % 60) + 0
    this.seconds = (secondsTotal % 60) + 0
    this.microseconds = micros + 0
  }

  /** From the three stored fields; `seconds` and `micros` must have the same sign (or be 0). */
  static fromStored(totalMonths: number, days: number, seconds: number, micros: number): Interval {
    return new Interval(totalMonths, days, seconds, micros)
  }

  /**
   * Builds a normalized interval: years fold into months, hours/minutes/seconds/microseconds fold
   * into one time part, exactly as PostgreSQL does on input. Every field must be an integer.
   */
  static make(fields: IntervalFields): Interval {
    const f = (name: keyof IntervalFields): bigint => {
      const v = fields[name] ?? 0
      if (!Number.isSafeInteger(v)) throw new RangeError(`Interval.${name} must be a safe integer, got ${v}`)
      return BigInt(v)
    }
    const totalMonths = f("years") * 12n + f("months")
    const micros = ((f("hours") * 60n + f("minutes")) * 60n + f("seconds")) * 1_000_000n + f("microseconds")
    const secs = micros / 1_000_000n // truncates toward zero, like the split of the stored value
    return new Interval(Number(totalMonths), Number(f("days")), Number(secs), Number(micros - secs * 1_000_000n))
  }

  /** The months field PostgreSQL stores (years * 12 + months). */
  get totalMonths(): number {
    return this.years * 12 + this.months
  }

  /** The microseconds field PostgreSQL stores, exactly. */
  get totalMicroseconds(): bigint {
    return BigInt((this.hours * 60 + this.minutes) * 60 + this.seconds) * 1_000_000n + BigInt(this.microseconds)
  }

  /**
   * Input text PostgreSQL reads back to the same value under every IntervalStyle: each unit
   * spelled out with its own sign, integers only.
   */
  toPostgres(): string {
    return `${this.years} years ${this.months} mons ${this.days} days ${this.hours} hours ${this.minutes} mins ${this.seconds} secs ${this.microseconds} microseconds`
  }

  /** ISO 8601 duration text (`P1Y2M3DT4H5M6.5S`), as PostgreSQL prints under IntervalStyle iso_8601. */
  toString(): string {
    const date = `${this.years !== 0 ? this.years + "Y" : ""}${this.months !== 0 ? this.months + "M" : ""}${
      this.days !== 0 ? this.days + "D" : ""
    }`
    const secs = this.seconds !== 0 || this.microseconds !== 0
      ? `${this.seconds < 0 || this.microseconds < 0 ? "-" : ""}${Math.abs(this.seconds)}${
        this.microseconds !== 0 ? "." + String(Math.abs(this.microseconds)).padStart(6, "0").replace(/0+$/, "") : ""
      }S`
      : ""
    const time = `${this.hours !== 0 ? this.hours + "H" : ""}${this.minutes !== 0 ? this.minutes + "M" : ""}${secs}`
    return date === "" && time === "" ? "PT0S" : `P${date}${time === "" ? "" : "T" + time}`
  }

  toJSON(): string {
    return this.toString()
  }
}

// --- binary -----------------------------------------------------------------------------------

/** interval binary (16 bytes at `at`): int64 microseconds, int32 days, int32 months. */
export const intervalBinary = (b: Uint8Array, at: number): Interval => {
  const [hi, lo] = int64Parts(b, at)
  let [secs, micros] = floorDiv64(hi, lo, 1_000_000)
  // floorDiv64 floors; the split we want truncates toward zero so both parts share a sign.
  if (secs < 0 && micros > 0) {
    secs += 1
    micros -= 1_000_000
  }
  return Interval.fromStored(int32(b, at + 12), int32(b, at + 8), secs, micros)
}

// --- text -------------------------------------------------------------------------------------

/**
 * IntervalStyle `postgres` (the default): `1 year 2 mons -3 days +04:05:06.5`, read in one pass:
 * signed integers each followed by a unit, then optionally a signed clock.
 */
const parsePostgresStyle = (text: string): Interval => {
  const n = text.length
  let months = 0
  let days = 0
  let seconds = 0
  let micros = 0
  let i = 0
  while (i < n) {
    const negative = text.charCodeAt(i) === 45
    if (negative || text.charCodeAt(i) === 43) i++
    const start = i
    let value = 0
    for (; i < n; i++) {
      const c = text.charCodeAt(i) - 48
      if (c < 0 || c > 9) break
      value = value * 10 + c
    }
    if (i === start) return Malformed.throw("interval", text)
    if (text.charCodeAt(i) === 58) {
      // the clock H+:MM:SS[.ffffff] closes the value
      const clock = /^:(\d\d):(\d\d)(?:\.(\d{1,6}))?$/.exec(text.slice(i))
      if (clock === null) return Malformed.throw("interval", text)
      const s = negative ? -1 : 1
      seconds = s * (value * 3600 + Number(clock[1]) * 60 + Number(clock[2]))
      micros = clock[3] === undefined ? 0 : s * Number(clock[3].padEnd(6, "0"))
      break
    }
    if (text.charCodeAt(i) !== 32) return Malformed.throw("interval", text)
    let end = text.indexOf(" ", ++i)
    if (end < 0) end = n
    const unit = text.slice(i, end)
    const signed = negative ? -value : value
    if (unit === "days" || unit === "day") days += signed
    else if (unit === "mons" || unit === "mon") months += signed
    else if (unit === "years" || unit === "year") months += signed * 12
    else return Malformed.throw("interval", text)
    i = end + 1
  }
  return Interval.fromStored(months, days, seconds, micros)
}

const isoRe =
  /^P(?:(-?\d+)Y)?(?:(-?\d+)M)?(?:(-?\d+)W)?(?:(-?\d+)D)?(?:T(?:(-?\d+)H)?(?:(-?\d+)M)?(?:(-?)(\d+)(?:\.(\d{1,6}))?S)?)?$/

/** IntervalStyle `iso_8601`: `P1Y2M-3DT-4H-5M-6.5S`. */
const parseIsoStyle = (text: string): Interval => {
  const m = isoRe.exec(text)
  if (m === null) return Malformed.throw("interval", text)
  const n = (i: number): number => Number(m[i] ?? 0)
  const s = m[7] === "-" ? -1 : 1
  const timeSeconds = n(5) * 3600 + n(6) * 60
  const seconds = s * n(8)
  const micros = m[9] === undefined ? 0 : s * Number(m[9].padEnd(6, "0"))
  // PostgreSQL prints hours, minutes and seconds of one time field, so they share its sign.
  return Interval.fromStored(n(1) * 12 + n(2), n(3) * 7 + n(4), timeSeconds + seconds, micros)
}

export const intervalText = (text: string): Interval => {
  if (text.startsWith("P")) return parseIsoStyle(text)
  if (text.startsWith("@")) {
    throw new Malformed(
      `cannot read interval ${JSON.stringify(text)}: IntervalStyle postgres_verbose is not supported (use postgres)`
    )
  }
  return parsePostgresStyle(text)
}
