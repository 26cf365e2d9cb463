/**
 * COPY through the simple query protocol.
 *
 * FROM STDIN: after CopyInResponse every chunk goes out as one CopyData, waiting for the socket
 * to drain when it is full (so a fast producer cannot buffer without bound); the end sends
 * CopyDone, an early end (interruption, a failing producer) sends CopyFail. Either way the
 * server answers with CommandComplete or ErrorResponse, then ReadyForQuery: the connection is
 * clean. A server error mid-copy fails the next write.
 *
 * TO STDOUT: CopyData payloads are handed to the stream in chunks; when the consumer is behind
 * (more than `highWater` bytes buffered) the socket is paused, which stops the server. An early
 * end cancels the COPY under the core's cancel/drain rules (the socket is resumed to drain it).
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { PgError } from "../PgError.js"
import { PgInputError } from "../PgError.js"
import type { TypeRegistry } from "../PgTypes.js"
import { type OpHost, QueryOp } from "./query.js"
import { Frontend } from "./writer.js"

const noResume = (): void => {}

const queryPayload = (host: OpHost, sql: string): Buffer => host.writer.begin(Frontend.Query).cstring(sql).end().flush()

const notCopy = (sql: string, what: string) => new PgInputError({ message: `the statement is not a ${what}`, sql })

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

  /** One CopyData per chunk, bounded by the socket's buffer. */
  write(chunk: Chunk.Chunk<Uint8Array>): Effect.Effect<void, PgError> {
    return Effect.async((resume) => {
      if (this.state === "done" || this.ended) {
        resume(Effect.fail(this.failure ?? notCopy(this.sql, "COPY in progress")))
        return
      }
      const w = this.host.writer
      for (const bytes of chunk) {
        if (bytes.length > 0) w.begin(Frontend.CopyData).bytes(bytes).end()
      }
      this.host.writeWithBackpressure(w.flush(), () => {
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
