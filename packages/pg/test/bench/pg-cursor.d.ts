// pg-cursor ships no types; only what stream.ts uses
declare module "pg-cursor" {
  import type { Submittable } from "pg"
  export default class Cursor implements Submittable {
    constructor(text: string, values?: ReadonlyArray<unknown>)
    submit: Submittable["submit"]
    read(rows: number): Promise<Array<unknown>>
    close(): Promise<void>
  }
}
