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
  /** The cache key (SQL text and parameter OIDs) and the OIDs themselves. */
  readonly key: string
  readonly oids: ReadonlyArray<number>
  /** The columns with the format this connection asks for. */
  readonly fields: ReadonlyArray<Field>
  readonly names: Array<string>
  readonly decoders: Array<Decoder>
  /** 1 at the columns requested in binary; `undefined` when every column is text. */
  readonly binary: Uint8Array | undefined
}

/** Builds the entry from the statement's RowDescription (every format 0 in a Describe 'S'). */
export const describe = (
  name: string,
  fields: ReadonlyArray<Field>,
  registry: TypeRegistry,
  key = "",
  oids: ReadonlyArray<number> = []
): Prepared => {
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
  return { name, key, oids, fields: out, names, decoders, binary: anyBinary ? binary : undefined }
}

/** The cache key: the SQL text (which cannot contain NUL) and the parameter OIDs. */
export const cacheKey = (sql: string, oids: ReadonlyArray<number>): string =>
  oids.length === 0 ? sql : `${sql}\0${oids.join(",")}`

const sameOids = (oids: ReadonlyArray<number>, params: ReadonlyArray<{ readonly oid: number }>): boolean => {
  if (oids.length !== params.length) return false
  for (let i = 0; i < oids.length; i++) if (oids[i] !== params[i]!.oid) return false
  return true
}

export class StatementCache {
  private readonly entries = new Map<string, Prepared>()
  /** The last entry used per SQL text: a hit without building the key (the common case). */
  private readonly bySql = new Map<string, Prepared>()
  /** The most recently used entry (no LRU reordering needed when it is hit again). */
  private mru: Prepared | undefined = undefined
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
    if (entry !== undefined) this.touch(entry)
    return entry
  }

  /** The entry for `sql` with these parameter types, marked most recently used. */
  lookup(sql: string, params: ReadonlyArray<{ readonly oid: number }>): Prepared | undefined {
    const hinted = this.bySql.get(sql)
    if (hinted !== undefined && sameOids(hinted.oids, params) && this.entries.get(hinted.key) === hinted) {
      this.touch(hinted)
      return hinted
    }
    const entry = this.get(cacheKey(sql, params.map((p) => p.oid)))
    if (entry !== undefined) this.bySql.set(sql, entry)
    return entry
  }

  private touch(entry: Prepared): void {
    if (this.mru === entry) return
    this.entries.delete(entry.key)
    this.entries.set(entry.key, entry)
    this.mru = entry
  }

  /** A name no statement of this connection uses. */
  nextName(): string {
    return `berth_${(++this.counter).toString(36)}`
  }

  /** Caches `entry` under its key and SQL text. */
  add(sql: string, entry: Prepared): void {
    const key = entry.key
    const previous = this.entries.get(key)
    if (previous !== undefined) {
      this.entries.delete(key)
      this.pendingCloses.push(previous.name)
    }
    this.entries.set(key, entry)
    this.bySql.set(sql, entry)
    this.mru = entry
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string
      this.pendingCloses.push(this.entries.get(oldest)!.name)
      this.entries.delete(oldest)
    }
    // stale hints are harmless (checked against `entries`), but must not pile up
    if (this.bySql.size > 2 * this.capacity) this.bySql.clear()
  }

  /** The server no longer accepts `name` for `key` (dropped or stale): forget it, close it. */
  invalidate(key: string, name: string): void {
    if (this.entries.get(key)?.name === name) this.entries.delete(key)
    if (this.mru?.name === name) this.mru = undefined
    this.pendingCloses.push(name)
  }

  /** The server dropped every prepared statement of the session. */
  clear(): void {
    this.entries.clear()
    this.bySql.clear()
    this.mru = undefined
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

/** A parsed RowDescription, with the bytes it was parsed from. */
export interface Description {
  readonly bytes: Buffer
  readonly fields: ReadonlyArray<Field>
  readonly names: ReadonlyArray<string>
  readonly decoders: ReadonlyArray<Decoder>
}

/**
 * The last RowDescription of each statement text: a statement that is described on every
 * execution (the unnamed statement, a simple query) reuses the parsed columns and decoders when
 * the server sends the same bytes again. Comparing bytes keeps it exact: a changed column type
 * or name is a different description.
 */
export class DescriptionMemo {
  private readonly entries = new Map<string, Description>()

  constructor(readonly capacity: number) {}

  get(sql: string, buf: Buffer, start: number, end: number): Description | undefined {
    const entry = this.entries.get(sql)
    if (entry === undefined || entry.bytes.length !== end - start) return undefined
    return buf.compare(entry.bytes, 0, entry.bytes.length, start, end) === 0 ? entry : undefined
  }

  set(sql: string, entry: Description): void {
    if (this.entries.size >= this.capacity && !this.entries.has(sql)) this.entries.clear()
    this.entries.set(sql, entry)
  }
}
