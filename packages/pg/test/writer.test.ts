import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { Writer } from "../src/internal/writer.js"

// Strings near the length where the writer stops trying ASCII in JavaScript, with and without
// non-ASCII characters (at the start, the middle, the end), surrogate pairs and lone surrogates.
const tricky = [
  "",
  "s1",
  "a".repeat(63),
  "a".repeat(64),
  "a".repeat(65),
  "é",
  "a".repeat(63) + "é",
  "é" + "a".repeat(70),
  "abc\u00ffdef",
  "x😀y",
  "lone \ud800 surrogate",
  "\u007f\u0080"
]

const expected = {
  cstring: (s: string) => Buffer.concat([Buffer.from(s, "utf8"), Buffer.from([0])]),
  lengthString: (s: string) => {
    const bytes = Buffer.from(s, "utf8")
    const length = Buffer.alloc(4)
    length.writeInt32BE(bytes.length)
    return Buffer.concat([length, bytes])
  }
}

const written = (f: (w: Writer) => void): Buffer => {
  const w = new Writer()
  f(w)
  return w.flush()
}

describe("Writer strings", () => {
  it("encodes exactly as Buffer.from(s, 'utf8') does, ASCII or not", () => {
    for (const s of tricky) {
      expect(written((w) => w.cstring(s))).toEqual(expected.cstring(s))
      expect(written((w) => w.lengthString(s))).toEqual(expected.lengthString(s))
    }
    FastCheck.assert(
      FastCheck.property(FastCheck.array(FastCheck.string({ unit: "binary", maxLength: 80 })), (strings) => {
        const out = written((w) => strings.forEach((s, i) => (i % 2 === 0 ? w.cstring(s) : w.lengthString(s))))
        const want = Buffer.concat(strings.map((s, i) => i % 2 === 0 ? expected.cstring(s) : expected.lengthString(s)))
        expect(out).toEqual(want)
      })
    )
  })

  it("grows its buffer for long strings and keeps what came before", () => {
    const long = "ü".repeat(20_000)
    const out = written((w) => w.cstring("before").lengthString(long).cstring("after"))
    expect(out).toEqual(
      Buffer.concat([expected.cstring("before"), expected.lengthString(long), expected.cstring("after")])
    )
  })
})
