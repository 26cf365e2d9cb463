/**
 * A statement read through a portal in chunks: Bind, then `Execute(fetchSize)` + Flush, and
 * another Execute only when the consumer has taken the previous chunk (one chunk of look-ahead),
 * so the server — not this process — holds the rest of the result.
 *
 * No Sync goes out until the stream ends. Outside a transaction block the whole stream is then
 * one implicit transaction (the portal would not survive a Sync), and inside one nothing changes.
 * The op is the connection's active statement until its ReadyForQuery, so other calls queue
 * behind the stream, and the cancel/drain rules of the core apply unchanged:
 *
 * - complete: CommandComplete -> Sync -> ReadyForQuery -> the stream ends.
 * - server error: ErrorResponse -> Sync (the server skips to it) -> ReadyForQuery -> it fails.
 * - early end with no Execute in flight: Close portal + Sync; the backend is idle, nothing to cancel.
 * - early end with an Execute in flight: Close portal + Sync, and the core's interrupt: a
 *   CancelRequest, and the next statement waits for this ReadyForQuery AND the cancel socket's
 *   close, so the cancel can only hit this stream.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { PgError } from "../PgError.js"
import type { TypeRegistry } from "../PgTypes.js"
import { type OpHost, type Plan, QueryOp } from "./query.js"
import { Frontend, type Writer } from "./writer.js"

type Resume = (effect: Effect.Effect<Chunk.Chunk<unknown>, Option.Option<PgError>>) => void

const noResume = (): void => {}

export class PortalOp extends QueryOp {
  override readonly exclusive: boolean = true

  private inflight = false
  private completed = false
  private synced = false
  private ready: Array<unknown> | undefined = undefined
  private failure: PgError | undefined = undefined
  private waiter: Resume | undefined = undefined

  constructor(
    plan: Plan,
    sql: string,
    arrayMode: boolean,
    registry: TypeRegistry,
    host: OpHost,
    readonly fetchSize: number
  ) {
    super(plan, sql, false, arrayMode, registry, noResume, host)
  }

  protected override writeExecute(w: Writer): void {
    w.begin(Frontend.Execute).cstring("").int32(this.fetchSize).end()
    w.begin(Frontend.Flush).end()
  }

  override build(w: Writer): void {
    super.build(w)
    this.inflight = true
  }

  /** The next chunk: the stream's pull. Fails with `None` at the end. */
  readonly pull: Effect.Effect<Chunk.Chunk<unknown>, Option.Option<PgError>> = Effect.async((resume) => {
    this.waiter = resume
    this.wake()
    return Effect.sync(() => {
      this.waiter = undefined
    })
  })

  private wake(): void {
    const waiter = this.waiter
    if (waiter === undefined) return
    const chunk = this.ready
    if (chunk !== undefined) {
      this.waiter = undefined
      this.ready = undefined
      this.requestMore()
      waiter(Effect.succeed(Chunk.unsafeFromArray(chunk)))
    } else if (this.state === "done") {
      this.waiter = undefined
      waiter(this.failure === undefined ? Effect.fail(Option.none()) : Effect.fail(Option.some(this.failure)))
    }
  }

  /** One chunk of look-ahead: ask for the next as soon as the current one is handed out. */
  private requestMore(): void {
    if (this.state !== "active" || this.inflight || this.completed || this.synced) return
    const w = this.host.writer
    w.begin(Frontend.Execute).cstring("").int32(this.fetchSize).end()
    w.begin(Frontend.Flush).end()
    this.inflight = true
    this.host.write(w.flush())
  }

  private sync(closePortal: boolean): void {
    if (this.synced) return
    this.synced = true
    const w = this.host.writer
    if (closePortal) w.begin(Frontend.Close).int8(0x50 /* P */).cstring("").end()
    w.begin(Frontend.Sync).end()
    this.host.write(w.flush())
  }

  override portalSuspended(): void {
    this.inflight = false
    if (this.decodeError !== undefined) {
      // a value the registry cannot decode ends the stream with that error
      this.sync(true)
      return
    }
    this.ready = this.takeRows()
    this.wake()
  }

  override commandComplete(_tag: string): void {
    this.inflight = false
    this.completed = true
    const rows = this.takeRows()
    if (this.decodeError === undefined && rows.length > 0) this.ready = rows
    this.sync(false)
  }

  override emptyQuery(): void {
    this.inflight = false
    this.completed = true
    this.sync(false)
  }

  override serverErrorArrived(): void {
    this.inflight = false
    // the server discards everything up to the next Sync
    this.sync(false)
  }

  protected override resetForRetry(): void {
    this.inflight = false
    this.completed = false
    this.synced = false
    this.ready = undefined
  }

  override finish(failure?: PgError): void {
    if (this.state === "done") return
    // cache bookkeeping, and the one retry of a stale statement (its error precedes any row)
    if (failure === undefined && this.plan._tag === "Cached" && this.settleCache(this.plan)) return
    this.state = "done"
    this.failure = failure ?? this.error ?? this.decodeError
    // rows after an error are not delivered: the caller sees the error instead
    if (this.failure !== undefined) this.ready = undefined
    this.wake()
  }

  /** The stream's scope closed (done, taken enough, interrupted, failed downstream). */
  release(): void {
    this.waiter = undefined
    if (this.state === "queued") {
      this.host.interrupt(this)
      return
    }
    if (this.state !== "active") return
    this.abandoned = true
    this.ready = undefined
    if (this.synced) return // the Sync is out: ReadyForQuery ends it
    const running = this.inflight
    this.sync(true)
    // only an Execute in flight can be running on the server: cancel it (safely, see the core)
    if (running) this.host.interrupt(this)
  }
}
