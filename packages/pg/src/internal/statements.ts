/**
 * The per-connection cache of named prepared statements: an LRU keyed by SQL text and parameter
 * type OIDs. An entry exists only once the server has confirmed the Parse (ParseComplete) and
 * described the statement, so a Bind-only execution always knows its result columns and asks for
 * binary where the registry prefers it.
 *
 * Statements that leave the cache (eviction, invalidation) are not closed at once: their names
 * wait in `pendingCloses` and the next statement that goes out prepends a Close for each, inside
 * its own Sync group. A statement abandoned in the queue never consumes them, so nothing leaks.
 */
import type { Field } from "../PgConnection.js"
import type { TypeRegistry } from "../PgTypes.js"

export type Decoder = ((text: string) => unknown) | ((bytes: Uint8Array) => unknown)

/** A described statement, ready for Bind/Execute/Sync. */
export interface Prepared {
  readonly name: string
  /** The columns with the format this connection asks for. */
  readonly fields: ReadonlyArray<Field>
  readonly names: Array<string>
  readonly decoders: Array<Decoder>
  /** 1 at the columns requested in binary; `undefined` when every column is text. */
  readonly binary: Uint8Array | undefined
}

/** Builds the entry from the statement's RowDescription (every format 0 in a Describe 'S'). */
export const describe = (name: string, fields: ReadonlyArray<Field>, registry: TypeRegistry): Prepared => {
  const n = fields.length
  const out: Array<Field> = new Array(n)
  const names: Array<string> = new Array(n)
  const decoders: Array<Decoder> = new Array(n)
  const binary = new Uint8Array(n)
  let anyBinary = false
  for (let i = 0; i < n; i++) {
    const f = fields[i]!
    const format = registry.resultFormat(f.dataTypeOid)
    binary[i] = format
    if (format === 1) anyBinary = true
    out[i] = { ...f, format: format === 1 ? "binary" : "text" }
    names[i] = f.name
    decoders[i] = format === 1 ? registry.binaryDecoder(f.dataTypeOid) : registry.textDecoder(f.dataTypeOid)
  }
  return { name, fields: out, names, decoders, binary: anyBinary ? binary : undefined }
}

/** The cache key: the SQL text (which cannot contain NUL) and the parameter OIDs. */
export const cacheKey = (sql: string, oids: ReadonlyArray<number>): string =>
  oids.length === 0 ? sql : `${sql}\0${oids.join(",")}`

export class StatementCache {
  private readonly entries = new Map<string, Prepared>()
  private counter = 0
  /** Bumped when the server dropped every statement (DISCARD ALL / DEALLOCATE ALL). */
  generation = 0
  /** Server statements to Close with the next outgoing statement. */
  pendingCloses: Array<string> = []

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.entries.size
  }

  /** The entry for `key`, marked most recently used. */
  get(key: string): Prepared | undefined {
    const entry = this.entries.get(key)
    if (entry !== undefined) {
      this.entries.delete(key)
      this.entries.set(key, entry)
    }
    return entry
  }

  /** A name no statement of this connection uses. */
  nextName(): string {
    return `berth_${(++this.counter).toString(36)}`
  }

  add(key: string, entry: Prepared): void {
    const previous = this.entries.get(key)
    if (previous !== undefined) {
      this.entries.delete(key)
      this.pendingCloses.push(previous.name)
    }
    this.entries.set(key, entry)
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string
      this.pendingCloses.push(this.entries.get(oldest)!.name)
      this.entries.delete(oldest)
    }
  }

  /** The server no longer accepts `name` for `key` (dropped or stale): forget it, close it. */
  invalidate(key: string, name: string): void {
    if (this.entries.get(key)?.name === name) this.entries.delete(key)
    this.pendingCloses.push(name)
  }

  /** The server dropped every prepared statement of the session. */
  clear(): void {
    this.entries.clear()
    this.pendingCloses = []
    this.generation++
  }

  takeCloses(): Array<string> {
    const closes = this.pendingCloses
    if (closes.length > 0) this.pendingCloses = []
    return closes
  }

  /** Puts back closes taken by a statement that could not be sent. */
  restoreCloses(closes: ReadonlyArray<string>): void {
    if (closes.length > 0) this.pendingCloses = [...closes, ...this.pendingCloses]
  }
}
