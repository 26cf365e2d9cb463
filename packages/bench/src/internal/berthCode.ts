/**
 * Which code of Berth's packages a benchmark process runs: the JavaScript `tsc -b` built into
 * each package's `dist/`, or the TypeScript sources (through tsx, with the `source` condition).
 */
import * as path from "node:path"

/** `built`: `dist/*.js`, as applications run it; `source`: `src/*.ts` through tsx. */
export type BerthCode = "built" | "source"

/**
 * Why `resolved` (the file `@berth/pg` resolves to) is not `expected`'s code, or `undefined`
 * when it is: a measurement of the wrong code must fail, never be reported.
 */
export const mismatch = (expected: BerthCode, resolved: string): string | undefined => {
  const dir = expected === "built" ? "dist" : "src"
  return resolved.split(path.sep).includes(dir)
    ? undefined
    : `expected Berth's ${expected} code (${dir}/), but @berth/pg resolves to ${resolved}`
}
