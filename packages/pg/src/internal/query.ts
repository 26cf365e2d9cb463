/**
 * One statement in flight: collects RowDescription / DataRow / CommandComplete / ErrorResponse
 * until ReadyForQuery. Rows are decoded straight from the read buffer; decoders are resolved
 * once per RowDescription.
 */
import * as Effect from "effect/Effect"
import type { Field, QueryResult } from "../PgConnection.js"
import type { PgError, PgServerError } from "../PgError.js"
import { DecodeError, type TypeRegistry } from "../PgTypes.js"
import { MalformedMessage, parseCommandTag, readCString } from "./messages.js"

export type OpState = "queued" | "active" | "done"

/** Node's Buffer has a direct UTF-8 slice that skips toString's argument handling. */
interface FastBuffer extends Buffer {
  utf8Slice(start: number, end: number): string
}

const emptyFields: ReadonlyArray<Field> = []

export class QueryOp {
  state: OpState = "queued"
  /** Set when the caller was interrupted: the outcome is drained and dropped. */
  abandoned = false
  error: PgServerError | undefined = undefined
  /** A value the registry could not decode: the statement fails, the connection is fine. */
  decodeError: DecodeError | undefined = undefined
  private readonly results: Array<QueryResult> = []
  private fields: ReadonlyArray<Field> = emptyFields
  private names: Array<string> = []
  private decoders: Array<(text: string) => unknown> = []
  private rows: Array<unknown> = []

  constructor(
    readonly payload: Buffer,
    readonly sql: string,
    readonly simple: boolean,
    readonly arrayMode: boolean,
    private readonly registry: TypeRegistry,
    private readonly resume: (effect: Effect.Effect<unknown, PgError>) => void
  ) {}

  rowDescription(buf: Buffer, start: number, end: number): void {
    const count = buf.readInt16BE(start)
    let pos = start + 2
    const fields: Array<Field> = new Array(count)
    const names: Array<string> = new Array(count)
    const decoders: Array<(text: string) => unknown> = new Array(count)
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
    this.fields = fields
    this.names = names
    this.decoders = decoders
    this.rows = []
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
      this.rows = []
    }
  }

  private decodeRow(buf: Buffer, start: number, end: number): void {
    const count = buf.readInt16BE(start)
    const decoders = this.decoders
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
          row[i] = decoders[i]!((buf as FastBuffer).utf8Slice(pos, pos + len))
          pos += len
        }
      }
      this.rows.push(row)
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
          row[names[i]!] = decoders[i]!((buf as FastBuffer).utf8Slice(pos, pos + len))
          pos += len
        }
      }
      this.rows.push(row)
    }
  }

  commandComplete(tag: string): void {
    const { command, rowCount } = parseCommandTag(tag)
    this.results.push({ rows: this.rows as Array<never>, fields: this.fields, command, rowCount })
    this.fields = emptyFields
    this.names = []
    this.decoders = []
    this.rows = []
  }

  emptyQuery(): void {
    // an empty statement in a simple-query script produces no result; the extended protocol
    // gets one empty result so `query("")` still has a shape
    if (!this.simple) this.results.push({ rows: [], fields: [], command: "", rowCount: undefined })
  }

  /** The outcome, once ReadyForQuery has arrived. */
  get result(): QueryResult {
    return this.results[0] ?? { rows: [], fields: this.fields, command: "", rowCount: undefined }
  }

  get allResults(): ReadonlyArray<QueryResult> {
    return this.results
  }

  /** Delivers success (ReadyForQuery) or `failure`; never twice, never to an abandoned caller. */
  finish(failure?: PgError): void {
    if (this.state === "done") return
    this.state = "done"
    if (this.abandoned) return
    if (failure !== undefined) this.resume(Effect.fail(failure))
    else if (this.error !== undefined) this.resume(Effect.fail(this.error))
    else if (this.decodeError !== undefined) this.resume(Effect.fail(this.decodeError))
    else this.resume(Effect.succeed(this.simple ? this.results : this.result))
  }
}
