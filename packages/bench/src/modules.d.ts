// pg-cursor and pg-copy-streams ship no type declarations and their @types packages are not
// dependencies of the workspace; these describe the small surface the contenders use.

declare module "pg-cursor" {
  import type { Submittable } from "pg"

  class Cursor<Row = Record<string, unknown>> implements Submittable {
    constructor(text: string, values?: ReadonlyArray<unknown>)
    submit: Submittable["submit"]
    read(rows: number): Promise<Array<Row>>
    close(): Promise<void>
  }
  export default Cursor
}

declare module "pg-copy-streams" {
  import type { Submittable } from "pg"
  import type { Writable } from "node:stream"

  export interface CopyStreamQuery extends Submittable, Writable {
    readonly rowCount: number
  }
  export function from(text: string): CopyStreamQuery
}
