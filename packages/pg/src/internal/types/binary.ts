/**
 * Readers for PostgreSQL's binary (network byte order) representations. They take a view on the
 * connection's receive buffer, so nothing here keeps a reference to its input.
 */
import { Malformed } from "./errors.js"

const f64 = new Float64Array(1)
const f64Bytes = new Uint8Array(f64.buffer)
const f32 = new Float32Array(1)
const f32Bytes = new Uint8Array(f32.buffer)
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

export const expectLength = (bytes: Uint8Array, length: number, what: string): void => {
  if (bytes.length !== length) {
    throw new Malformed(`malformed binary ${what}: expected ${length} bytes, got ${bytes.length}`)
  }
}

export const int16 = (b: Uint8Array, at: number): number => ((b[at]! << 24) | (b[at + 1]! << 16)) >> 16

export const uint16 = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!

export const int32 = (b: Uint8Array, at: number): number =>
  (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!

export const uint32 = (b: Uint8Array, at: number): number => int32(b, at) >>> 0

/** A signed 64-bit integer as a bigint; the common |n| < 2^53 case goes through one exact double. */
export const int64BigInt = (b: Uint8Array, at: number): bigint => {
  const hi = int32(b, at)
  const lo = uint32(b, at + 4)
  if (hi >= -0x200000 && hi < 0x200000) return BigInt(hi * 4294967296 + lo)
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo))
}

/** The high (signed) and low (unsigned) 32-bit halves of a 64-bit integer. */
export const int64Parts = (b: Uint8Array, at: number): readonly [hi: number, lo: number] => [
  int32(b, at),
  uint32(b, at + 4)
]

/**
 * Exact floor division of the 64-bit integer `hi * 2^32 + lo` by `divisor` (a divisor of 10^6 or
 * 86_400_000 style constants up to 2^32): returns `[quotient, remainder]` with `0 <= remainder <
 * divisor`. Doubles alone would round above 2^53; splitting 2^32 = k * divisor + c keeps every
 * intermediate below 2^53.
 */
export const floorDiv64 = (hi: number, lo: number, divisor: number): readonly [q: number, r: number] => {
  const k = Math.floor(4294967296 / divisor)
  const c = 4294967296 - k * divisor
  const rest = hi * c + lo
  const q2 = Math.floor(rest / divisor)
  return [hi * k + q2, rest - q2 * divisor]
}

export const float64 = (b: Uint8Array, at: number): number => {
  if (littleEndian) {
    for (let i = 0; i < 8; i++) f64Bytes[i] = b[at + 7 - i]!
  } else {
    for (let i = 0; i < 8; i++) f64Bytes[i] = b[at + i]!
  }
  return f64[0]!
}

export const float32 = (b: Uint8Array, at: number): number => {
  if (littleEndian) {
    for (let i = 0; i < 4; i++) f32Bytes[i] = b[at + 3 - i]!
  } else {
    for (let i = 0; i < 4; i++) f32Bytes[i] = b[at + i]!
  }
  return f32[0]!
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true })

export const utf8 = (b: Uint8Array): string => utf8Decoder.decode(b)

const hexDigits = "0123456789abcdef"
const hexTable: Array<string> = Array.from({ length: 256 }, (_, i) => hexDigits[i >> 4]! + hexDigits[i & 15]!)

export const toHex = (b: Uint8Array, from = 0, to = b.length): string => {
  let out = ""
  for (let i = from; i < to; i++) out += hexTable[b[i]!]
  return out
}

const nibble = (code: number): number => {
  if (code >= 48 && code <= 57) return code - 48
  if (code >= 97 && code <= 102) return code - 87
  if (code >= 65 && code <= 70) return code - 55
  return -1
}

/** Decodes `text[from..]` as hex digit pairs; -1 in the result means a bad digit. */
export const fromHex = (text: string, from: number): Uint8Array | undefined => {
  const length = text.length - from
  if (length % 2 !== 0) return undefined
  const out = new Uint8Array(length / 2)
  for (let i = 0, j = from; i < out.length; i++, j += 2) {
    const h = nibble(text.charCodeAt(j))
    const l = nibble(text.charCodeAt(j + 1))
    if (h < 0 || l < 0) return undefined
    out[i] = (h << 4) | l
  }
  return out
}
