/**
 * One statement in flight: collects RowDescription / DataRow / CommandComplete / ErrorResponse
 * until ReadyForQuery. Rows are decoded straight from the read buffer; decoders are resolved
 * once per RowDescription (or once per cached statement).
 *
 * A statement's bytes are built when it goes out (`build`), not when it is queued: only then
 * does the statement cache know whether the statement is prepared, and an op abandoned in the
 * queue never touches the cache.
 */
import * as Effect from "effect/Effect"
import type { Field, QueryResult } from "../PgConnection.js"
import type { PgError, PgServerError } from "../PgError.js"
import { DecodeError, type EncodedParam, type TypeRegistry } from "../PgTypes.js"
import { commandTagOf, MalformedMessage, readCString } from "./messages.js"
import {
  cacheKey,
  type Decoder,
  describe,
  type Description,
  type DescriptionMemo,
  type Prepared,
  type StatementCache
} from "./statements.js"
import { Frontend, type Writer } from "./writer.js"

export type OpState = "queued" | "active" | "done"

/** What goes on the wire: bytes built up front, or a statement run through the cache. */
export type Plan =
  | { readonly _tag: "Fixed"; readonly payload: Buffer }
  | {
    /** An explicitly prepared statement. */
    readonly _tag: "Named"
    readonly prepared: Prepared
    readonly params: ReadonlyArray<EncodedParam>
  }
  | {
    /** Through the statement cache, keyed by the SQL text and the parameter OIDs. */
    readonly _tag: "Cached"
    readonly cache: StatementCache
    readonly params: ReadonlyArray<EncodedParam>
  }

/** What an op needs from the connection core to retry itself. */
export interface OpHost {
  readonly txStatus: "idle" | "transaction" | "failed"
  /** Parsed RowDescriptions of statements described on every execution. */
  readonly descriptions: DescriptionMemo
  readonly writer: Writer
  /** Puts the op back at the head of the queue. */
  requeue(op: QueryOp): void
  /** Writes to the socket (a no-op once the connection is closed). */
  write(buf: Buffer): void
  /** The caller of `op` is gone: dequeue it, or cancel and drain it. */
  interrupt(op: QueryOp): void
  writeWithBackpressure(buf: Buffer, done: () => void): void
  pauseReading(): void
  resumeReading(): void
}

/**
 * The server no longer accepts the cached statement `name`: it was dropped (DEALLOCATE, DISCARD,
 * 26000) or its result type changed (0A000 from RevalidateCachedQuery). The routine name is
 * checked, not the message, which is translated under lc_messages.
 */
const isStale = (error: PgServerError, name: string): boolean =>
  (error.code === "26000" && error.message.includes(`"${name}"`)) ||
  (error.code === "0A000" && (error.routine === "RevalidateCachedQuery" ||
    error.message.includes("cached plan must not change result type")))

/** Bind into the unnamed portal; `binary` gives per-column result formats. */
export const writeBind = (
  w: Writer,
  statement: string,
  params: ReadonlyArray<EncodedParam>,
  binary: Uint8Array | undefined
): void => {
  const n = params.length
  w.begin(Frontend.Bind).cstring("").cstring(statement).int16(n)
  for (let i = 0; i < n; i++) w.int16(params[i]!.format)
  w.int16(n)
  for (let i = 0; i < n; i++) {
    const value = params[i]!.value
    if (value === null) w.int32(-1)
    else if (typeof value === "string") w.lengthString(value)
    else w.lengthBytes(value)
  }
  if (binary === undefined) {
    w.int16(0)
  } else {
    w.int16(binary.length)
    for (let i = 0; i < binary.length; i++) w.int16(binary[i]!)
  }
  w.end()
}

/** Node's Buffer has a direct UTF-8 slice that skips toString's argument handling. */
interface FastBuffer extends Buffer {
  utf8Slice(start: number, end: number): string
}

const emptyFields: ReadonlyArray<Field> = []
const emptyNames: ReadonlyArray<string> = []
const emptyDecoders: ReadonlyArray<Decoder> = []
const emptyOids: ReadonlyArray<number> = []

const mentionsCopy = /copy/i

/**
 * The rows of a result that has none yet: shared and never handed out (`takeRows` gives a
 * fresh array instead), so a statement allocates no rows array until its first row arrives.
 */
const noRows: Array<unknown> = []

export class QueryOp {
  state: OpState = "queued"
  /**
   * Talks to the server while it runs (a portal, COPY): goes out only on an empty pipeline, and
   * nothing is pipelined behind it.
   */
  readonly exclusive: boolean
  /**
   * The caller holds no session: other callers' statements may be pipelined behind this one, so
   * it must not leave a transaction block open (checked at its ReadyForQuery).
   */
  shared = false
  /** Set when the caller was interrupted: the outcome is drained and dropped. */
  abandoned = false
  error: PgServerError | undefined = undefined
  /** A value the registry could not decode: the statement fails, the connection is fine. */
  decodeError: DecodeError | undefined = undefined
  /** The first result (all an extended-protocol statement has), then `more` holds them all. */
  private first: QueryResult | undefined = undefined
  private more: Array<QueryResult> | undefined = undefined
  protected fields: ReadonlyArray<Field> = emptyFields
  // never mutated: replaced by a RowDescription's or a prepared statement's arrays
  private names: ReadonlyArray<string> = emptyNames
  private decoders: ReadonlyArray<Decoder> = emptyDecoders
  /** 1 at binary columns (a cached statement); `undefined`: every column is text. */
  private binary: Uint8Array | undefined = undefined
  /** The current result's rows so far: {@link noRows} until one arrives. */
  protected rows: Array<unknown> = noRows
  // statement cache bookkeeping
  /** The cached statement this execution binds (a hit). */
  private prepared: Prepared | undefined = undefined
  /** The name this execution parses (a miss), with the cache generation it was sent in. */
  private parsing: string | undefined = undefined
  private generation = 0
  private parsed = false
  private described: ReadonlyArray<Field> | undefined = undefined
  private retried = false

  constructor(
    readonly plan: Plan,
    readonly sql: string,
    readonly simple: boolean,
    readonly arrayMode: boolean,
    private readonly registry: TypeRegistry,
    protected readonly resume: (effect: Effect.Effect<unknown, PgError>) => void,
    protected readonly host: OpHost
  ) {
    // COPY FROM STDIN reads the wire: a statement pipelined behind it would be read as COPY
    // data. Any text mentioning copy runs alone (a false positive only costs pipelining).
    this.exclusive = mentionsCopy.test(sql)
  }

  /**
   * Appends the statement's messages to `w` (the connection's outgoing bytes of this tick),
   * when the statement goes out. May throw (a message beyond 2 GiB); then nothing of it stays.
   */
  build(w: Writer): void {
    const plan = this.plan
    if (plan._tag === "Fixed") {
      w.bytes(plan.payload)
      return
    }
    const mark = w.length
    if (plan._tag === "Named") {
      const prepared = plan.prepared
      this.fields = prepared.fields
      this.names = prepared.names
      this.decoders = prepared.decoders
      this.binary = prepared.binary
      try {
        writeBind(w, prepared.name, plan.params, prepared.binary)
        this.writeExecute(w)
      } catch (e) {
        w.truncate(mark)
        throw e
      }
      return
    }
    const cache = plan.cache
    const closes = cache.takeCloses()
    try {
      for (const name of closes) w.begin(Frontend.Close).int8(0x53 /* S */).cstring(name).end()
      const params = plan.params
      const hit = cache.lookup(this.sql, params)
      if (hit !== undefined) {
        this.prepared = hit
        this.fields = hit.fields
        this.names = hit.names
        this.decoders = hit.decoders
        this.binary = hit.binary
        writeBind(w, hit.name, params, hit.binary)
      } else {
        // first execution: Parse + Describe the statement, then run it in text (the formats
        // are only known once the RowDescription is back); later ones are Bind/Execute only
        const name = cache.nextName()
        this.parsing = name
        this.generation = cache.generation
        w.begin(Frontend.Parse).cstring(name).cstring(this.sql).int16(params.length)
        for (let i = 0; i < params.length; i++) w.uint32(params[i]!.oid)
        w.end()
        w.begin(Frontend.Describe).int8(0x53 /* S */).cstring(name).end()
        writeBind(w, name, params, undefined)
      }
      this.writeExecute(w)
    } catch (e) {
      w.truncate(mark)
      cache.restoreCloses(closes)
      this.prepared = undefined
      this.parsing = undefined
      throw e
    }
  }

  /** What follows Bind: Execute every row, then Sync. */
  protected writeExecute(w: Writer): void {
    w.begin(Frontend.Execute).cstring("").int32(0).end()
    w.begin(Frontend.Sync).end()
  }

  /** COPY FROM STDIN needs a data source `query` does not take: abort it cleanly. */
  copyIn(): void {
    const w = this.host.writer
    w.begin(Frontend.CopyFail).cstring("COPY FROM STDIN needs PgConnection.copyFrom").end()
    // copy-in mode ignored the statement's own Sync: an extended-protocol COPY needs another one
    if (!this.simple) w.begin(Frontend.Sync).end()
    this.host.write(w.flush())
  }

  /** COPY TO STDOUT through `query`: the data is discarded. */
  copyOut(): void {}

  copyData(_buf: Buffer, _start: number, _end: number): void {}

  /** A ReadyForQuery: true when it ends the op (the core then moves on). */
  readyForQuery(): boolean {
    return true
  }

  /** A PortalSuspended (only a row-limited Execute produces one). */
  portalSuspended(): void {}

  /** An ErrorResponse arrived (already recorded in `error`). */
  serverErrorArrived(): void {}

  /** The parameter types of a described statement. */
  paramOids: ReadonlyArray<number> = emptyOids

  parameterDescription(buf: Buffer, start: number, end: number): void {
    // unsigned: a statement may have up to 65535 parameters
    const count = buf.readUInt16BE(start)
    if (start + 2 + count * 4 > end) throw new MalformedMessage("truncated ParameterDescription")
    const oids: Array<number> = new Array(count)
    for (let i = 0; i < count; i++) oids[i] = buf.readUInt32BE(start + 2 + i * 4)
    this.paramOids = oids
  }

  parseComplete(): void {
    this.parsed = true
  }

  noData(): void {
    if (this.parsing !== undefined && this.parsed) this.described = emptyFields
  }

  rowDescription(buf: Buffer, start: number, end: number): void {
    const memo = this.host.descriptions
    const known = memo.get(this.sql, buf, start, end)
    if (known !== undefined) {
      this.fields = known.fields
      this.names = known.names
      this.decoders = known.decoders
    } else {
      const parsed = this.parseRowDescription(buf, start, end)
      memo.set(this.sql, parsed)
      this.fields = parsed.fields
      this.names = parsed.names
      this.decoders = parsed.decoders
    }
    this.binary = undefined
    this.rows = noRows
    if (this.parsing !== undefined && this.parsed) this.described = this.fields
  }

  private parseRowDescription(buf: Buffer, start: number, end: number): Description {
    const count = buf.readInt16BE(start)
    let pos = start + 2
    const fields: Array<Field> = new Array(count)
    const names: Array<string> = new Array(count)
    const decoders: Array<Decoder> = new Array(count)
    for (let i = 0; i < count; i++) {
      const [name, next] = readCString(buf, pos, end)
      pos = next
      if (pos + 18 > end) throw new MalformedMessage("truncated RowDescription")
      const dataTypeOid = buf.readUInt32BE(pos + 6)
      fields[i] = {
        name,
        tableOid: buf.readUInt32BE(pos),
        columnAttributeNumber: buf.readInt16BE(pos + 4),
        dataTypeOid,
        dataTypeSize: buf.readInt16BE(pos + 10),
        dataTypeModifier: buf.readInt32BE(pos + 12),
        format: buf.readInt16BE(pos + 16) === 1 ? "binary" : "text"
      }
      names[i] = name
      decoders[i] = this.registry.textDecoder(dataTypeOid)
      pos += 18
    }
    return { bytes: Buffer.from(buf.subarray(start, end)), fields, names, decoders }
  }

  dataRow(buf: Buffer, start: number, end: number): void {
    if (this.decodeError !== undefined) return
    try {
      this.decodeRow(buf, start, end)
    } catch (e) {
      if (e instanceof MalformedMessage) throw e
      this.decodeError = e instanceof DecodeError
        ? e
        : new DecodeError({ message: `cannot decode a value: ${String(e)}`, oid: 0, typeName: "unknown" })
      this.rows = noRows
    }
  }

  private decodeRow(buf: Buffer, start: number, end: number): void {
    const count = buf.readInt16BE(start)
    const decoders = this.decoders
    // binary values are plain Uint8Array views of the read buffer, valid during the decoder call
    // only (a Buffer view would turn a decoder's `slice()` copy into another view)
    const binary = this.binary
    if (count !== decoders.length) throw new MalformedMessage("DataRow column count does not match RowDescription")
    let pos = start + 2
    if (this.arrayMode) {
      const row: Array<unknown> = new Array(count)
      for (let i = 0; i < count; i++) {
        const len = buf.readInt32BE(pos)
        pos += 4
        if (len < 0) {
          row[i] = null
        } else {
          if (pos + len > end) throw new MalformedMessage("DataRow value overruns the message")
          row[i] = binary !== undefined && binary[i] === 1
            ? (decoders[i] as (bytes: Uint8Array) => unknown)(new Uint8Array(buf.buffer, buf.byteOffset + pos, len))
            : (decoders[i] as (text: string) => unknown)((buf as FastBuffer).utf8Slice(pos, pos + len))
          pos += len
        }
      }
      this.addRow(row)
    } else {
      const names = this.names
      const row: Record<string, unknown> = {}
      for (let i = 0; i < count; i++) {
        const len = buf.readInt32BE(pos)
        pos += 4
        if (len < 0) {
          row[names[i]!] = null
        } else {
          if (pos + len > end) throw new MalformedMessage("DataRow value overruns the message")
          row[names[i]!] = binary !== undefined && binary[i] === 1
            ? (decoders[i] as (bytes: Uint8Array) => unknown)(new Uint8Array(buf.buffer, buf.byteOffset + pos, len))
            : (decoders[i] as (text: string) => unknown)((buf as FastBuffer).utf8Slice(pos, pos + len))
          pos += len
        }
      }
      this.addRow(row)
    }
  }

  private addRow(row: unknown): void {
    if (this.rows === noRows) this.rows = [row]
    else this.rows.push(row)
  }

  /** The current result's rows (a fresh array when there are none); the next result starts empty. */
  protected takeRows(): Array<unknown> {
    const rows = this.rows
    this.rows = noRows
    return rows === noRows ? [] : rows
  }

  private addResult(result: QueryResult): void {
    if (this.first === undefined) this.first = result
    else if (this.more === undefined) this.more = [this.first, result]
    else this.more.push(result)
  }

  commandComplete(tag: string): void {
    const { command, rowCount } = commandTagOf(tag)
    this.addResult({ rows: this.takeRows() as Array<never>, fields: this.fields, command, rowCount })
    this.fields = emptyFields
    this.names = emptyNames
    this.decoders = emptyDecoders
    this.binary = undefined
  }

  emptyQuery(): void {
    // an empty statement in a simple-query script produces no result; the extended protocol
    // gets one empty result so `query("")` still has a shape
    if (!this.simple) this.addResult({ rows: [], fields: [], command: "", rowCount: undefined })
  }

  /** The outcome, once ReadyForQuery has arrived. */
  get result(): QueryResult {
    return this.first ?? { rows: [], fields: this.fields, command: "", rowCount: undefined }
  }

  /** Every result so far, in order (the same array once there are two or more). */
  get allResults(): ReadonlyArray<QueryResult> {
    return this.more ?? (this.first === undefined ? [] : [this.first])
  }

  /** Delivers success (ReadyForQuery) or `failure`; never twice, never to an abandoned caller. */
  finish(failure?: PgError): void {
    if (this.state === "done") return
    // the connection is gone on a failure: no cache bookkeeping then
    if (failure === undefined && this.plan._tag === "Cached" && this.settleCache(this.plan)) return
    this.state = "done"
    if (this.abandoned) return
    if (failure !== undefined) this.resume(Effect.fail(failure))
    else if (this.error !== undefined) this.resume(Effect.fail(this.error))
    else if (this.decodeError !== undefined) this.resume(Effect.fail(this.decodeError))
    else this.resume(Effect.succeed(this.simple ? this.allResults : this.result))
  }

  /** Subclasses reset their own state before a retry. */
  protected resetForRetry(): void {}

  /**
   * Records what the server now holds (a statement it parsed is cached, or closed later when it
   * could not be described); drops a stale cached statement and, outside a transaction block,
   * retries once with a fresh Parse. Returns true when the op was requeued.
   */
  protected settleCache(plan: Extract<Plan, { _tag: "Cached" }>): boolean {
    const cache = plan.cache
    const parsing = this.parsing
    if (parsing !== undefined) {
      // a DISCARD/DEALLOCATE ALL since it was sent dropped it already
      if (!this.parsed || this.generation !== cache.generation) return false
      if (this.described !== undefined) {
        const oids = plan.params.map((p) => p.oid)
        cache.add(this.sql, describe(parsing, this.described, this.registry, cacheKey(this.sql, oids), oids))
      } else cache.pendingCloses.push(parsing)
      return false
    }
    const prepared = this.prepared
    if (prepared === undefined || this.error === undefined || !isStale(this.error, prepared.name)) return false
    cache.invalidate(prepared.key, prepared.name)
    // in a transaction block the error aborted the transaction: the caller must see it. Outside
    // one, the implicit transaction of this Sync group ran nothing else, so a retry is safe.
    if (this.abandoned || this.retried || this.host.txStatus !== "idle") return false
    this.retried = true
    this.error = undefined
    this.decodeError = undefined
    this.first = undefined
    this.more = undefined
    this.fields = emptyFields
    this.names = emptyNames
    this.decoders = emptyDecoders
    this.binary = undefined
    this.rows = noRows
    this.prepared = undefined
    this.resetForRetry()
    this.state = "queued"
    this.host.requeue(this)
    return true
  }
}
