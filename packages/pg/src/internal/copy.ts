/**
 * COPY through the simple query protocol.
 *
 * FROM STDIN: after CopyInResponse every payload goes out as CopyData, waiting for the socket
 * to drain when it is full (so a fast producer cannot buffer without bound); the end sends
 * CopyDone, an early end (interruption, a failing producer) sends CopyFail. Either way the
 * server answers with CommandComplete or ErrorResponse, then ReadyForQuery: the connection is
 * clean. Payloads are not copied: a 5-byte header goes out, then the caller's bytes as they are
 * (the socket holds on to them until they are sent, so they must not be mutated afterwards);
 * only small payloads are gathered into one buffer with their headers, which saves writes. A
 * payload above {@link MAX_COPY_DATA} is split into several CopyData (the server limits a message
 * to 1 GiB; message boundaries mean nothing inside a COPY stream). The sink fails as soon as the
 * op fails (a server error, a lost connection), even while the producer is idle.
 *
 * TO STDOUT: CopyData payloads are handed to the stream in chunks; when the consumer is behind
 * (more than `highWater` bytes buffered) the socket is paused, which stops the server. An early
 * end cancels the COPY under the core's cancel/drain rules (the socket is resumed to drain it).
 */
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as MergeDecision from "effect/MergeDecision"
import * as Option from "effect/Option"
import * as Sink from "effect/Sink"
import type { PgError } from "../PgError.js"
import { PgInputError } from "../PgError.js"
import type { TypeRegistry } from "../PgTypes.js"
import { type OpHost, QueryOp } from "./query.js"
import { Frontend } from "./writer.js"

const noResume = (): void => {}

const queryPayload = (host: OpHost, sql: string): Buffer => host.writer.begin(Frontend.Query).cstring(sql).end().flush()

const notCopy = (sql: string, what: string) => new PgInputError({ message: `the statement is not a ${what}`, sql })

/** The largest CopyData payload sent as one message; larger payloads are split. */
const MAX_COPY_DATA = 1 << 20

/** Payloads below this size are copied next to their header (one write for many of them). */
const GATHER_BELOW = 16 * 1024

/** A Buffer over `bytes[start, start + length)`, sharing its memory. */
const view = (bytes: Uint8Array, start: number, length: number): Buffer =>
  Buffer.isBuffer(bytes) && start === 0 && length === bytes.length
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset + start, length)

export class CopyInOp extends QueryOp {
  override readonly exclusive: boolean = true

  private started = false
  private ended = false
  private doneSent = false
  private failure: PgError | undefined = undefined
  private waiters: Array<() => void> = []

  constructor(sql: string, registry: TypeRegistry, host: OpHost) {
    super({ _tag: "Fixed", payload: queryPayload(host, sql) }, sql, true, false, registry, noResume, host)
  }

  override copyIn(): void {
    this.started = true
    if (this.abandoned && !this.ended) {
      // the sink ended before the server was ready: abort now
      this.ended = true
      this.host.write(this.host.writer.begin(Frontend.CopyFail).cstring("the COPY was interrupted").end().flush())
    }
    this.wakeAll()
  }

  override copyOut(): void {
    // COPY TO STDOUT sent to a sink: let it run out; the op fails with notCopy at the end
    this.failure ??= notCopy(this.sql, "COPY ... FROM STDIN")
  }

  private wakeAll(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }

  override finish(failure?: PgError): void {
    if (this.state === "done") return
    this.state = "done"
    this.failure = failure ?? this.error ?? this.failure ??
      (this.started ? undefined : notCopy(this.sql, "COPY ... FROM STDIN"))
    this.wakeAll()
  }

  /** Resolves when the server accepts data (or fails: the statement ended without COPY IN). */
  readonly ready: Effect.Effect<void, PgError> = Effect.async((resume) => {
    const check = () => {
      if (this.state === "done") resume(this.failure ? Effect.fail(this.failure) : Effect.void)
      else if (this.started) resume(Effect.void)
      else this.waiters.push(check)
    }
    check()
  })

  /**
   * The chunk's payloads as CopyData, bounded by the socket's buffer: the last write of the
   * chunk resumes once the socket accepted it (at once, or at 'drain').
   */
  write(chunk: Chunk.Chunk<Uint8Array>): Effect.Effect<void, PgError> {
    return Effect.async((resume) => {
      if (this.state === "done" || this.ended) {
        resume(Effect.fail(this.failure ?? notCopy(this.sql, "COPY in progress")))
        return
      }
      const host = this.host
      const w = host.writer
      // every buffer but the last goes out at once; the last one waits for the socket
      let last: Buffer | undefined = undefined
      const send = (buf: Buffer) => {
        if (last !== undefined) host.write(last)
        last = buf
      }
      for (const bytes of chunk) {
        for (let at = 0; at < bytes.length; at += MAX_COPY_DATA) {
          const n = Math.min(bytes.length - at, MAX_COPY_DATA)
          w.int8(Frontend.CopyData).int32(n + 4)
          if (n < GATHER_BELOW) {
            w.bytes(at === 0 && n === bytes.length ? bytes : bytes.subarray(at, at + n))
          } else {
            send(w.flush())
            send(view(bytes, at, n))
          }
        }
      }
      if (w.length > 0) send(w.flush())
      if (last === undefined) return resume(Effect.void)
      host.writeWithBackpressure(last, () => {
        if (this.state === "done" && this.failure !== undefined) resume(Effect.fail(this.failure))
        else resume(Effect.void)
      })
    })
  }

  /** CopyDone, then the server's verdict: the number of rows copied. */
  readonly end: Effect.Effect<number, PgError> = Effect.suspend(() => {
    if (!this.ended && this.state === "active") {
      this.ended = true
      this.doneSent = true
      this.host.write(this.host.writer.begin(Frontend.CopyDone).end().flush())
    }
    return Effect.async<number, PgError>((resume) => {
      const check = () => {
        if (this.state !== "done") return this.waiters.push(check)
        if (this.failure !== undefined) return resume(Effect.fail(this.failure))
        resume(Effect.succeed(this.allResults[0]?.rowCount ?? 0))
      }
      check()
    })
  })

  /** Fails as soon as the op fails (a server error, a lost connection); never succeeds. */
  readonly failed: Effect.Effect<never, PgError> = Effect.async((resume) => {
    const check = () => {
      if (this.state !== "done") this.waiters.push(check)
      else if (this.failure !== undefined) resume(Effect.fail(this.failure))
    }
    check()
    return Effect.sync(() => {
      const i = this.waiters.indexOf(check)
      if (i >= 0) this.waiters.splice(i, 1)
    })
  })

  /**
   * The COPY as a sink: the chunks as CopyData, then CopyDone and the number of rows copied.
   * The writes race {@link failed}, so a server error or a lost connection fails the sink at
   * once, also while it waits for an idle producer (not only at the next write or the end).
   */
  readonly sink: Sink.Sink<number, Uint8Array, never, PgError> = Sink.fromChannel(
    Channel.mergeWith(
      Sink.toChannel(
        Sink.forEachChunk((chunk: Chunk.Chunk<Uint8Array>) => this.write(chunk)).pipe(
          Sink.mapEffect(() => this.end)
        )
      ),
      {
        other: Channel.fromEffect(this.failed),
        onSelfDone: (exit: Exit.Exit<number, PgError>) => MergeDecision.Done(exit),
        onOtherDone: (exit: Exit.Exit<never, PgError>) => MergeDecision.Done<number, PgError, never>(exit)
      }
    )
  )

  /** The sink's scope closed: CopyFail unless it already ended. */
  release(): void {
    this.waiters = []
    if (this.state === "queued") return this.host.interrupt(this)
    if (this.state !== "active") return
    this.abandoned = true
    // after CopyDone the server may still be inserting (triggers, constraints): cancel that
    if (this.doneSent) return this.host.interrupt(this)
    if (this.ended || !this.started) return
    this.ended = true
    this.host.write(this.host.writer.begin(Frontend.CopyFail).cstring("the COPY was interrupted").end().flush())
  }
}

type Resume = (effect: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<PgError>>) => void

export class CopyOutOp extends QueryOp {
  override readonly exclusive: boolean = true

  private started = false
  private buffered: Array<Uint8Array> = []
  private bufferedBytes = 0
  private paused = false
  private failure: PgError | undefined = undefined
  private waiter: Resume | undefined = undefined

  constructor(sql: string, registry: TypeRegistry, host: OpHost, readonly highWater: number) {
    super({ _tag: "Fixed", payload: queryPayload(host, sql) }, sql, true, false, registry, noResume, host)
  }

  override copyOut(): void {
    this.started = true
  }

  override copyData(buf: Buffer, start: number, end: number): void {
    if (this.abandoned) return
    // copied out: the read buffer is reused
    const bytes = new Uint8Array(end - start)
    bytes.set(buf.subarray(start, end))
    this.buffered.push(bytes)
    this.bufferedBytes += end - start
    if (this.bufferedBytes >= this.highWater && !this.paused) {
      this.paused = true
      this.host.pauseReading()
    }
    this.wake()
  }

  override finish(failure?: PgError): void {
    if (this.state === "done") return
    this.state = "done"
    this.failure = failure ?? this.error ?? (this.started ? undefined : notCopy(this.sql, "COPY ... TO STDOUT"))
    if (this.paused) {
      this.paused = false
      this.host.resumeReading()
    }
    this.wake()
  }

  private wake(): void {
    const waiter = this.waiter
    if (waiter === undefined) return
    if (this.buffered.length > 0 && this.failure === undefined) {
      this.waiter = undefined
      const chunk = Chunk.unsafeFromArray(this.buffered)
      this.buffered = []
      this.bufferedBytes = 0
      if (this.paused) {
        this.paused = false
        this.host.resumeReading()
      }
      waiter(Effect.succeed(chunk))
    } else if (this.state === "done") {
      this.waiter = undefined
      waiter(Effect.fail(this.failure === undefined ? Option.none() : Option.some(this.failure)))
    }
  }

  readonly pull: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<PgError>> = Effect.async((resume) => {
    this.waiter = resume
    this.wake()
    return Effect.sync(() => {
      this.waiter = undefined
    })
  })

  /** The stream's scope closed: an unfinished COPY is cancelled (safely, see the core). */
  release(): void {
    this.waiter = undefined
    this.buffered = []
    if (this.state === "queued") return this.host.interrupt(this)
    if (this.state !== "active") return
    if (this.paused) {
      this.paused = false
      this.host.resumeReading()
    }
    this.host.interrupt(this)
  }
}
