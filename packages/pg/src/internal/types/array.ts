/**
 * Arrays: the text form `[2:3]={{"a\"b",NULL},{c,d}}` and the binary form (ndim, flags, element
 * OID, then size/lower bound per dimension, then length-prefixed elements, -1 for NULL).
 *
 * Multi-dimensional arrays become nested JavaScript arrays. Lower bounds other than 1 are
 * accepted and dropped: the elements keep their order (index 0 is the first element whatever
 * the bound), as PostgreSQL's own `array_to_json` does.
 */
import { int32 } from "./binary.js"
import { Malformed } from "./errors.js"

const LBRACE = 123
const RBRACE = 125
const QUOTE = 34
const BACKSLASH = 92
const SPACE = 32

/** Parses an array literal; `element` decodes each non-NULL element's text. */
export const parseArrayText = (
  text: string,
  element: (text: string) => unknown,
  delimiter = ","
): Array<unknown> => {
  const delim = delimiter.charCodeAt(0)
  let i = 0
  // Optional dimension decoration "[l:u][l:u]=": bounds carry no element data.
  if (text.charCodeAt(0) === 91) {
    const eq = text.indexOf("=")
    if (eq < 0) Malformed.throw("array", text)
    i = eq + 1
  }
  if (text.charCodeAt(i) !== LBRACE) Malformed.throw("array", text)
  const root: Array<unknown> = []
  const stack: Array<Array<unknown>> = [root]
  i++
  let current = root
  const n = text.length
  while (i < n) {
    const c = text.charCodeAt(i)
    if (c === LBRACE) {
      const child: Array<unknown> = []
      current.push(child)
      stack.push(child)
      current = child
      i++
    } else if (c === RBRACE) {
      stack.pop()
      i++
      if (stack.length === 0) {
        if (i !== n) Malformed.throw("array", text)
        return root
      }
      current = stack[stack.length - 1]!
    } else if (c === delim || c === SPACE) {
      i++
    } else if (c === QUOTE) {
      i++
      let start = i
      let value = ""
      for (;;) {
        if (i >= n) Malformed.throw("array", text)
        const q = text.charCodeAt(i)
        if (q === QUOTE) break
        if (q === BACKSLASH) {
          value += text.slice(start, i)
          start = ++i
        }
        i++
      }
      value += text.slice(start, i)
      i++
      current.push(element(value))
    } else {
      const start = i
      while (i < n) {
        const q = text.charCodeAt(i)
        if (q === delim || q === RBRACE) break
        i++
      }
      const raw = text.slice(start, i)
      current.push(raw.length === 4 && raw.toUpperCase() === "NULL" ? null : element(raw))
    }
  }
  return Malformed.throw("array", text)
}

/**
 * Decodes a binary array; `element` decodes each non-NULL element's bytes, or `fixed` reads
 * elements of a fixed width in place (no view per element).
 */
export const parseArrayBinary = (
  bytes: Uint8Array,
  element: (bytes: Uint8Array) => unknown,
  fixed?: { readonly size: number; readonly read: (b: Uint8Array, at: number) => unknown }
): Array<unknown> => {
  if (bytes.length < 12) throw new Malformed(`malformed binary array: ${bytes.length} bytes`)
  const ndim = int32(bytes, 0)
  if (ndim === 0) return []
  if (ndim < 0 || ndim > 6 || bytes.length < 12 + 8 * ndim) throw new Malformed(`malformed binary array: ndim ${ndim}`)
  // Every element takes at least its 4-byte length: a header claiming more elements than that
  // is malformed (and must not make us allocate a huge array).
  let total = 1
  for (let d = 0; d < ndim; d++) total *= int32(bytes, 12 + 8 * d)
  if (!(total >= 0 && total <= (bytes.length - 12 - 8 * ndim) / 4)) {
    throw new Malformed(`malformed binary array: ${total} elements in ${bytes.length} bytes`)
  }
  if (ndim === 1) return readFlat(bytes, total, element, fixed)
  const dims: Array<number> = []
  for (let d = 0; d < ndim; d++) dims.push(int32(bytes, 12 + 8 * d))
  let at = 12 + 8 * ndim
  const read = (d: number): Array<unknown> => {
    const size = dims[d]!
    const out = new Array<unknown>(size)
    for (let k = 0; k < size; k++) {
      if (d + 1 < ndim) {
        out[k] = read(d + 1)
        continue
      }
      if (at + 4 > bytes.length) throw new Malformed("malformed binary array: truncated")
      const len = int32(bytes, at)
      at += 4
      if (len === -1) {
        out[k] = null
        continue
      }
      if (len < 0 || at + len > bytes.length) throw new Malformed("malformed binary array: truncated element")
      if (fixed !== undefined) {
        if (len !== fixed.size) {
          throw new Malformed(`malformed binary array: element of ${len} bytes, expected ${fixed.size}`)
        }
        out[k] = fixed.read(bytes, at)
      } else {
        out[k] = element(bytes.subarray(at, at + len))
      }
      at += len
    }
    return out
  }
  const result = read(0)
  if (at !== bytes.length) throw new Malformed("malformed binary array: trailing bytes")
  return result
}

/** The common one-dimensional case as a plain loop (no per-dimension closure). */
const readFlat = (
  bytes: Uint8Array,
  size: number,
  element: (bytes: Uint8Array) => unknown,
  fixed: { readonly size: number; readonly read: (b: Uint8Array, at: number) => unknown } | undefined
): Array<unknown> => {
  const out = new Array<unknown>(size)
  const end = bytes.length
  let at = 20
  for (let k = 0; k < size; k++) {
    if (at + 4 > end) throw new Malformed("malformed binary array: truncated")
    const len = int32(bytes, at)
    at += 4
    if (len === -1) {
      out[k] = null
      continue
    }
    if (len < 0 || at + len > end) {
      throw new Malformed("malformed binary array: truncated element")
    } else if (fixed !== undefined) {
      if (len !== fixed.size) {
        throw new Malformed(`malformed binary array: element of ${len} bytes, expected ${fixed.size}`)
      }
      out[k] = fixed.read(bytes, at)
    } else {
      out[k] = element(bytes.subarray(at, at + len))
    }
    at += len
  }
  if (at !== end) throw new Malformed("malformed binary array: trailing bytes")
  return out
}

const quoteRe = /["\\]/g

/** One array element as quoted literal text (quoting always is valid and never ambiguous). */
export const quoteElement = (text: string): string => `"${text.replace(quoteRe, "\\$&")}"`
