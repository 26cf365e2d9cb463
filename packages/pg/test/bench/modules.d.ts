// pg-cursor and pg-copy-streams ship no types; only what stream.ts and copy.ts use
declare module "pg-cursor" {
  import type { Submittable } from "pg"
  export default class Cursor implements Submittable {
    constructor(text: string, values?: ReadonlyArray<unknown>)
    submit: Submittable["submit"]
    read(rows: number): Promise<Array<unknown>>
    close(): Promise<void>
  }
}

declare module "pg-copy-streams" {
  import type { Writable } from "node:stream"
  import type { Submittable } from "pg"
  export interface CopyStreamQuery extends Submittable, Writable {
    readonly rowCount: number
  }
  export function from(text: string): CopyStreamQuery
}
