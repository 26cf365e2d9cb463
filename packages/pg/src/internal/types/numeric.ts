/**
 * `numeric` in binary form: int16 ndigits, int16 weight, uint16 sign, uint16 dscale, then ndigits
 * base-10000 digits. Decoded to the exact decimal string PostgreSQL itself would print.
 */
import { expectLength, int16, uint16 } from "./binary.js"
import { Malformed } from "./errors.js"

const NUMERIC_POS = 0x0000
const NUMERIC_NEG = 0x4000
const NUMERIC_NAN = 0xc000
const NUMERIC_PINF = 0xd000
const NUMERIC_NINF = 0xf000

const pad4 = (n: number): string => (n < 10 ? "000" : n < 100 ? "00" : n < 1000 ? "0" : "") + n

export const numericBinaryToString = (b: Uint8Array): string => {
  if (b.length < 8) throw new Malformed(`malformed binary numeric: ${b.length} bytes`)
  const ndigits = int16(b, 0)
  const weight = int16(b, 2)
  const sign = uint16(b, 4)
  const dscale = uint16(b, 6)
  if (sign === NUMERIC_NAN) return "NaN"
  if (sign === NUMERIC_PINF) return "Infinity"
  if (sign === NUMERIC_NINF) return "-Infinity"
  if (sign !== NUMERIC_POS && sign !== NUMERIC_NEG) throw new Malformed(`malformed binary numeric: sign ${sign}`)
  expectLength(b, 8 + 2 * ndigits, "numeric")
  const digit = (i: number): number => (i >= 0 && i < ndigits ? uint16(b, 8 + 2 * i) : 0)
  let int = ""
  if (weight < 0) {
    int = "0"
  } else {
    int = String(digit(0))
    for (let i = 1; i <= weight; i++) int += pad4(digit(i))
  }
  let out = sign === NUMERIC_NEG ? "-" + int : int
  if (dscale > 0) {
    let frac = ""
    // Base-10000 digit i (0-based) covers decimal places 4*(i - weight - 1) + 1 ... + 4.
    for (let i = weight + 1; frac.length < dscale; i++) frac += pad4(digit(i))
    out += "." + frac.slice(0, dscale)
  }
  return out
}
