/**
 * inet/cidr binary form: family (2 = IPv4, 3 = IPv6), prefix bits, is_cidr, address length,
 * address bytes. Printed the way PostgreSQL's `inet_out` prints it, so text and binary agree.
 */
import { Malformed } from "./errors.js"

const ipv4 = (b: Uint8Array, at: number): string => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`

/** IPv6 text: the longest run (≥ 2, first wins) of zero words as `::`, embedded IPv4 for v4-mapped/compatible. */
const ipv6 = (b: Uint8Array, at: number): string => {
  const words: Array<number> = []
  for (let i = 0; i < 8; i++) words.push((b[at + 2 * i]! << 8) | b[at + 2 * i + 1]!)
  let bestBase = -1
  let bestLen = 0
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && words[j] === 0) j++
    if (j - i > bestLen) {
      bestBase = i
      bestLen = j - i
    }
    i = j
  }
  if (bestLen < 2) bestBase = -1
  let out = ""
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ":"
      continue
    }
    if (i !== 0) out += ":"
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
      out += ipv4(b, at + 12)
      return out
    }
    out += words[i]!.toString(16)
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) out += ":"
  return out
}

export const inetBinaryToString = (b: Uint8Array): string => {
  const family = b[0]
  const bits = b[1]!
  const isCidr = b[2] !== 0
  const length = b[3]
  if (family === 2 && length === 4 && b.length === 8) {
    return ipv4(b, 4) + (bits !== 32 || isCidr ? `/${bits}` : "")
  }
  if (family === 3 && length === 16 && b.length === 20) {
    return ipv6(b, 4) + (bits !== 128 || isCidr ? `/${bits}` : "")
  }
  throw new Malformed(`malformed binary inet: family ${family}, ${b.length} bytes`)
}
