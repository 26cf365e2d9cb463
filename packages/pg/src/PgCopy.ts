/**
 * COPY with rows instead of bytes: encoders for the text, CSV and binary COPY formats, a Sink of
 * rows for `COPY ... FROM STDIN` that batches them into large CopyData payloads, and `COPY ... TO
 * STDOUT` read back as rows.
 *
 * Built on {@link PgConnection.PgConnection.copyFrom} / `copyTo`: interruption and server errors
 * behave as they do there (an early end sends CopyFail, nothing is copied, the connection stays
 * usable).
 *
 * @since 0.1.0
 */
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { dual } from "effect/Function"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import {
  binaryHeader,
  binaryRow,
  binaryTrailer,
  ColumnError,
  csvRow,
  Out,
  parseCsvRecord,
  parseTextLine,
  resolveType,
  type RowEncoder,
  textRow
} from "./internal/copyEncode.js"
import type { PgConnection } from "./PgConnection.js"
import { type PgError, PgInputError } from "./PgError.js"
import * as PgTypes from "./PgTypes.js"

/**
 * A column type for the binary format: a built-in type name (`"int4"`, `"text[]"`, `"bigint"`,
 * `"timestamp with time zone"`) or a type OID.
 *
 * @example
 * ```ts
 * import { PgCopy, PgTypes } from "@berth/pg"
 *
 * const types: ReadonlyArray<PgCopy.ColumnType> = ["int4", "text", PgTypes.Oid.timestamptz, "jsonb"]
 * ```
 *
 * @since 0.1.0
 */
export type ColumnType = string | number

/**
 * How rows are encoded.
 *
 * - `text`: COPY's default format (tab-separated, `\N` for NULL, backslash escapes).
 * - `csv`: `WITH (FORMAT csv)` with its default options (`,` delimiter, `"` quote, NULL as an
 *   unquoted empty field, no header line); an empty string is written `""`.
 * - `binary`: `WITH (FORMAT binary)`; `types` gives each column's type, in the order of the
 *   COPY's column list. Built-in scalar types and their arrays are supported.
 *
 * Text and CSV values are written exactly as `registry.encodeParam` sends them as text
 * parameters (so a `Date` is ISO UTC text, an object is JSON, a `Uint8Array` is bytea).
 *
 * @example
 * ```ts
 * import type { PgCopy } from "@berth/pg"
 *
 * const text: PgCopy.Format = { format: "text" }
 * const csv: PgCopy.Format = { format: "csv" }
 * const binary: PgCopy.Format = { format: "binary", types: ["int8", "text", "timestamptz", "bytea"] }
 * ```
 *
 * @since 0.1.0
 */
export type Format =
  | { readonly format: "text" }
  | { readonly format: "csv" }
  | { readonly format: "binary"; readonly types: ReadonlyArray<ColumnType> }

/**
 * Options of {@link encode} and {@link rowsSink}.
 *
 * @example
 * ```ts
 * import { PgCopy, PgTypes } from "@berth/pg"
 *
 * const options: PgCopy.EncodeOptions = {
 *   format: "csv",
 *   registry: PgTypes.make({ int8: "string" }),
 *   batchBytes: 256 * 1024
 * }
 * ```
 *
 * @since 0.1.0
 */
export type EncodeOptions = Format & {
  /** The parameter encoder for text and CSV values (default `PgTypes.defaultRegistry`). */
  readonly registry?: PgTypes.TypeRegistry
  /** Rows are emitted in payloads of at least this many bytes, the last one aside (default 64 KiB). */
  readonly batchBytes?: number
}

const DEFAULT_BATCH_BYTES = 64 * 1024

type Row = ReadonlyArray<unknown>

interface Encoder {
  readonly row: RowEncoder
  readonly header: ((out: Out) => void) | undefined
  readonly trailer: ((out: Out) => void) | undefined
  readonly batchBytes: number
}

const makeEncoder = (options: EncodeOptions): Either.Either<Encoder, PgInputError> => {
  const registry = options.registry ?? PgTypes.defaultRegistry
  const batchBytes = options.batchBytes ?? DEFAULT_BATCH_BYTES
  if (!(Number.isSafeInteger(batchBytes) && batchBytes >= 1)) {
    return Either.left(
      new PgInputError({ message: `batchBytes must be a positive integer, got ${batchBytes}`, sql: undefined })
    )
  }
  switch (options.format) {
    case "text":
      return Either.right({ row: textRow(registry), header: undefined, trailer: undefined, batchBytes })
    case "csv":
      return Either.right({ row: csvRow(registry), header: undefined, trailer: undefined, batchBytes })
    case "binary": {
      const row = binaryRow(registry, options.types)
      if (typeof row === "string") {
        return Either.left(new PgInputError({ message: `binary COPY: ${row}`, sql: undefined }))
      }
      return Either.right({ row, header: binaryHeader, trailer: binaryTrailer, batchBytes })
    }
    default:
      return Either.left(
        new PgInputError({
          message: `unknown COPY format ${JSON.stringify((options as { format: unknown }).format)}`,
          sql: undefined
        })
      )
  }
}

const rowError = (error: unknown, index: number): PgInputError => {
  const column = error instanceof ColumnError ? error.column : -1
  const reason = error instanceof ColumnError ? error.message : error instanceof Error ? error.message : String(error)
  // the value itself is never quoted: it may be a secret
  return new PgInputError({
    message: `cannot encode row ${index + 1}${column >= 0 ? `, column ${column + 1}` : ""} for COPY: ${reason}`,
    sql: undefined
  })
}

/**
 * The encoding channel: rows in, byte payloads out, one payload per `batchBytes` of rows (and the
 * rest at the end, with the binary trailer). State is per run: the channel is built lazily.
 */
const encodeChannel = <E>(
  encoder: Encoder
): Channel.Channel<Chunk.Chunk<Uint8Array>, Chunk.Chunk<Row>, E | PgInputError, E, unknown, unknown> =>
  Channel.suspend(() => {
    const out = new Out(encoder.batchBytes + Math.min(encoder.batchBytes, 16 * 1024))
    let rows = 0
    let started = false
    const start = (): void => {
      started = true
      encoder.header?.(out)
    }
    const loop: Channel.Channel<Chunk.Chunk<Uint8Array>, Chunk.Chunk<Row>, E | PgInputError, E, unknown, unknown> =
      Channel.readWithCause({
        onInput: (input: Chunk.Chunk<Row>) => {
          if (!started) start()
          const batches: Array<Uint8Array> = []
          const encode = encoder.row
          const limit = encoder.batchBytes
          for (const row of input) {
            const before = out.pos
            try {
              encode(row, out)
            } catch (e) {
              out.pos = before
              return Channel.fail(rowError(e, rows))
            }
            rows++
            if (out.pos >= limit) batches.push(out.take()!)
          }
          return batches.length === 0 ? loop : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(batches)), loop)
        },
        onFailure: (cause) => Channel.failCause(cause),
        onDone: () => {
          if (!started) start()
          encoder.trailer?.(out)
          const last = out.take()
          return last === undefined ? Channel.void : Channel.write(Chunk.of(last))
        }
      })
    return loop
  })

/**
 * Encodes a stream of rows (arrays of values in column order) as COPY data in `format`, in
 * payloads of about `batchBytes` (default 64 KiB): feed the result to `conn.copyFrom`. A value
 * that cannot be encoded fails the stream with a `PgInputError` naming the row and column (never
 * the value).
 *
 * @example
 * ```ts
 * import { PgConnection, PgCopy } from "@berth/pg"
 * import { Stream } from "effect"
 *
 * declare const conn: PgConnection.PgConnection
 * const copied = Stream.make([1, "one"], [2, null]).pipe(
 *   PgCopy.encode({ format: "csv" }),
 *   Stream.run(conn.copyFrom("copy items (id, name) from stdin with (format csv)"))
 * ) // Effect<number, PgError>: 2
 * ```
 *
 * @since 0.1.0
 */
export const encode: {
  (options: EncodeOptions): <E, R>(rows: Stream.Stream<Row, E, R>) => Stream.Stream<Uint8Array, E | PgInputError, R>
  <E, R>(rows: Stream.Stream<Row, E, R>, options: EncodeOptions): Stream.Stream<Uint8Array, E | PgInputError, R>
} = dual(
  2,
  <E, R>(rows: Stream.Stream<Row, E, R>, options: EncodeOptions): Stream.Stream<Uint8Array, E | PgInputError, R> => {
    const encoder = makeEncoder(options)
    if (Either.isLeft(encoder)) return Stream.fail(encoder.left)
    return Stream.pipeThroughChannel(rows, encodeChannel<E>(encoder.right))
  }
)

/**
 * Encodes rows at once into COPY payloads of about `batchBytes` (the binary header and trailer
 * included): for data built ahead of time, e.g. to send it with `Stream.fromIterable` later.
 *
 * @example
 * ```ts
 * import { PgCopy } from "@berth/pg"
 * import { Either } from "effect"
 *
 * const payloads = PgCopy.encodeAll([[1, "a\tb"], [2, null]], { format: "text" })
 * if (Either.isRight(payloads)) console.log(Buffer.concat(payloads.right).toString()) // "1\ta\\tb\n2\t\\N\n"
 * ```
 *
 * @since 0.1.0
 */
export const encodeAll = (
  rows: Iterable<Row>,
  options: EncodeOptions
): Either.Either<ReadonlyArray<Uint8Array>, PgInputError> => {
  const made = makeEncoder(options)
  if (Either.isLeft(made)) return Either.left(made.left)
  const encoder = made.right
  const out = new Out(encoder.batchBytes + Math.min(encoder.batchBytes, 16 * 1024))
  const batches: Array<Uint8Array> = []
  encoder.header?.(out)
  let index = 0
  for (const row of rows) {
    try {
      encoder.row(row, out)
    } catch (e) {
      return Either.left(rowError(e, index))
    }
    index++
    if (out.pos >= encoder.batchBytes) batches.push(out.take()!)
  }
  encoder.trailer?.(out)
  const last = out.take()
  if (last !== undefined) batches.push(last)
  return Either.right(batches)
}

/**
 * `COPY ... FROM STDIN` as a Sink of rows: rows are encoded in `format` and sent in CopyData
 * payloads of about `batchBytes` (default 64 KiB), never one write per row; the result is the
 * number of rows the server copied. The statement's own format must match (`with (format csv)`,
 * `with (format binary)`). A value that cannot be encoded fails the sink with a `PgInputError`
 * naming the row and column; like any early end (interruption, a failing producer) it sends
 * CopyFail, so nothing is copied and the connection stays usable.
 *
 * @example
 * ```ts
 * import { PgConnection, PgCopy } from "@berth/pg"
 * import { Stream } from "effect"
 *
 * declare const conn: PgConnection.PgConnection
 * const rows = Stream.range(1, 100_000).pipe(Stream.map((i) => [i, `name ${i}`, new Date()]))
 * const copied = Stream.run(
 *   rows,
 *   PgCopy.rowsSink(conn, "copy items (id, name, at) from stdin with (format binary)", {
 *     format: "binary",
 *     types: ["int4", "text", "timestamptz"]
 *   })
 * ) // Effect<number, PgError>: 100000
 * ```
 *
 * @since 0.1.0
 */
export const rowsSink = (
  conn: PgConnection,
  sql: string,
  options: EncodeOptions
): Sink.Sink<number, Row, never, PgError> => {
  const encoder = makeEncoder(options)
  if (Either.isLeft(encoder)) return Sink.fail(encoder.left)
  return Sink.suspend(() =>
    Sink.fromChannel(Channel.pipeToOrFail(encodeChannel<never>(encoder.right), Sink.toChannel(conn.copyFrom(sql))))
  )
}

/**
 * Options of {@link rows}.
 *
 * @example
 * ```ts
 * import type { PgCopy } from "@berth/pg"
 *
 * const options: PgCopy.RowsOptions = { format: "csv", types: ["int4", "text"] }
 * ```
 *
 * @since 0.1.0
 */
export interface RowsOptions {
  /** The COPY's format: `text` (default) or `csv` (default CSV options, no header line). */
  readonly format?: "text" | "csv"
  /** Column types: values are decoded with the registry's text decoders; without them, strings. */
  readonly types?: ReadonlyArray<ColumnType>
  /** The decoders for `types` (default `PgTypes.defaultRegistry`). */
  readonly registry?: PgTypes.TypeRegistry
  /** As `copyTo`'s: bytes buffered for the consumer before reading pauses (default 1 MiB). */
  readonly highWaterMark?: number
}

/**
 * `COPY ... TO STDOUT` in text or CSV format read back as rows: arrays of strings (`null` for
 * NULL), or of decoded values when `types` gives the column types. The server sends one row per
 * CopyData, so each element of `copyTo` is one row. An early end cancels the COPY, as for
 * `copyTo`; a malformed row or an undecodable value fails the stream with a `PgInputError`.
 *
 * @example
 * ```ts
 * import { PgConnection, PgCopy } from "@berth/pg"
 * import { Stream } from "effect"
 *
 * declare const conn: PgConnection.PgConnection
 * const rows = PgCopy.rows(conn, "copy (select id, tags from items) to stdout", { types: ["int4", "text[]"] })
 * const all = Stream.runCollect(rows) // [[1, ["a", "b"]], ...]
 * ```
 *
 * @since 0.1.0
 */
export const rows = (
  conn: PgConnection,
  sql: string,
  options: RowsOptions = {}
): Stream.Stream<ReadonlyArray<unknown>, PgError> => {
  const registry = options.registry ?? PgTypes.defaultRegistry
  const parse = options.format === "csv" ? parseCsvRecord : parseTextLine
  let decoders: ReadonlyArray<(text: string) => unknown> | undefined
  if (options.types !== undefined) {
    const made: Array<(text: string) => unknown> = []
    for (let i = 0; i < options.types.length; i++) {
      const oid = resolveType(options.types[i]!)
      if (oid === undefined) {
        return Stream.fail(
          new PgInputError({ message: `column ${i + 1}: unknown type ${JSON.stringify(options.types[i])}`, sql })
        )
      }
      made.push(registry.textDecoder(oid))
    }
    decoders = made
  }
  const utf8 = new TextDecoder("utf-8", { fatal: true })
  const toRow = (bytes: Uint8Array): Either.Either<ReadonlyArray<unknown>, PgInputError> => {
    try {
      const fields = parse(utf8.decode(bytes))
      if (decoders === undefined) return Either.right(fields)
      if (fields.length !== decoders.length) {
        return Either.left(
          new PgInputError({ message: `a COPY row has ${fields.length} fields, expected ${decoders.length}`, sql })
        )
      }
      const row: Array<unknown> = new Array(fields.length)
      for (let i = 0; i < fields.length; i++) {
        const f = fields[i]!
        row[i] = f === null ? null : decoders[i]!(f)
      }
      return Either.right(row)
    } catch (e) {
      return Either.left(
        new PgInputError({ message: `cannot read a COPY row: ${e instanceof Error ? e.message : String(e)}`, sql })
      )
    }
  }
  const copyOptions = options.highWaterMark === undefined ? undefined : { highWaterMark: options.highWaterMark }
  return Stream.mapChunksEffect(conn.copyTo(sql, copyOptions), (chunk) => {
    const out: Array<ReadonlyArray<unknown>> = new Array(chunk.length)
    let i = 0
    for (const bytes of chunk) {
      const row = toRow(bytes)
      if (Either.isLeft(row)) return Effect.fail(row.left)
      out[i++] = row.right
    }
    return Effect.succeed(Chunk.unsafeFromArray(out))
  })
}
