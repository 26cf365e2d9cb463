/**
 * The connection core: socket, framing, the statement queue, the pipeline and the cancel/drain
 * state machine. Plain callbacks on the hot path (no Effect per message); PgConnection wraps it.
 *
 * Life cycle: `startup` (messages are copied into an inbox the Effect-based startup reads)
 * -> `ready` (messages go to the op at the head of the pipeline) -> `closed` (every waiter
 * failed, socket gone).
 *
 * Pipelining: up to `pipelineDepth` statements are on the wire at once, each ending in its own
 * Sync, so an error is confined to its statement and the replies arrive in order (the head of
 * `inflight` owns every message until its ReadyForQuery). Writes made in one tick are corked into
 * one syscall. Ops that talk to the server mid-flight (portals, COPY) are exclusive: they go out
 * only on an empty pipeline and nothing follows them until they end.
 *
 * Cancel/drain (why it is safe): a CancelRequest stops whatever the backend runs when it arrives,
 * so one is sent only when the interrupted statement is the LAST one on the wire and the FIRST
 * not yet answered: then it can hit nothing else. The connection then sends nothing until BOTH
 * the statement's ReadyForQuery AND the server closing the cancel socket. The server closes it
 * only after it has signalled the backend, and a backend takes a pending signal before it reads
 * another command (a cancel that lands while it waits for input is discarded), so no later
 * statement can be hit. A cancel that lands before the backend has read the statement is
 * discarded by the server, so while the statement has not answered, further cancels follow
 * (backing off); each is as safe as the first. If the statement is not confirmed finished within
 * `cancelTimeout`, the connection is destroyed.
 *
 * An interrupted statement with others behind it on the wire cannot be cancelled safely (the
 * cancel could land on a follower): it is abandoned, runs to completion and its outcome is
 * discarded. An interrupted statement that is last but not yet first holds the pipeline (no new
 * statement goes out) until it becomes first, and is cancelled then.
 */
import * as net from "node:net"
import type * as tls from "node:tls"
import type { Notice, Notification } from "../PgConnection.js"
import type { PgError } from "../PgError.js"
import { PgConnectionError, PgInputError, PgProtocolError, type PgServerError, PgTimeoutError } from "../PgError.js"
import {
  Backend,
  cstringAt,
  isBackendType,
  MalformedMessage,
  parseErrorFields,
  readCString,
  serverError
} from "./messages.js"
import type { QueryOp } from "./query.js"
import { DescriptionMemo, type StatementCache } from "./statements.js"
import { cancelRequest, Frontend, Writer } from "./writer.js"

/** A message copied out of the read buffer (startup phase only). */
export interface RawMessage {
  readonly type: number
  readonly body: Buffer
}

export interface CoreOptions {
  readonly onNotice: ((notice: Notice) => void) | undefined
  readonly onNotification: ((notification: Notification) => void) | undefined
  readonly cancelTimeoutMillis: number
  readonly hostLabel: string
  /** Where to open the cancel side connection. */
  readonly cancelTarget: { readonly host: string; readonly port: number }
  /** Largest backend message accepted (a guard against garbage lengths). */
  readonly maxMessageBytes: number
  /** Most statements on the wire at once (1: each waits for the previous ReadyForQuery). */
  readonly pipelineDepth: number
}

export interface Listener {
  notify(notification: Notification): void
  /** The connection is gone. */
  fail(error: PgError): void
}

const INITIAL_BUFFER = 64 * 1024

type TxStatus = "idle" | "transaction" | "failed"

interface Drain {
  rfq: boolean
  cancelDone: boolean
  timer: ReturnType<typeof setTimeout>
  side: net.Socket | undefined
  /** The next CancelRequest, if the statement outlives the previous one. */
  retry: ReturnType<typeof setTimeout> | undefined
  retryDelay: number
}

/** First wait before re-sending a CancelRequest that stopped nothing (doubles, capped). */
const CANCEL_RETRY_MILLIS = 20
const CANCEL_RETRY_MAX_MILLIS = 500

export class Core {
  phase: "startup" | "ready" | "closed" = "startup"
  txStatus: TxStatus = "idle"
  readonly parameters = new Map<string, string>()
  backendPid = 0
  backendSecret = 0
  /** Why the connection is unusable, once it is. */
  brokenBy: PgError | undefined = undefined
  /** Scratch encoder for bytes sent at once (every user flushes what it wrote). */
  readonly writer = new Writer()
  /** Statements sent this tick, written to the socket together when the tick ends. */
  private readonly out = new Writer()
  /** Subscribers of `listen` streams (every notification; they filter by channel). */
  readonly listeners = new Set<Listener>()
  /** Named prepared statements (`undefined`: unnamed statements only). */
  statements: StatementCache | undefined = undefined
  readonly descriptions = new DescriptionMemo(256)

  private rbuf: Buffer = Buffer.allocUnsafe(INITIAL_BUFFER)
  private rlen = 0
  private inbox: Array<RawMessage> = []
  private inboxWaiter: (() => void) | undefined = undefined
  private readonly queue: Array<QueryOp> = []
  /** Ops sent and not yet finished, in wire order; the first owns the incoming messages. */
  private readonly inflight: Array<QueryOp> = []
  private drain: Drain | undefined = undefined
  /** An interrupted op, last on the wire, waiting to be first so it can be cancelled. */
  private hold: QueryOp | undefined = undefined
  private flushScheduled = false
  private readyWaiters: Array<() => void> = []
  private socketError: Error | undefined = undefined
  /** A FATAL error the server sent while no statement was running (e.g. admin shutdown). */
  private idleFatal: PgServerError | undefined = undefined

  constructor(public stream: net.Socket | tls.TLSSocket, readonly options: CoreOptions) {}

  /** A getter, so TypeScript does not narrow it across calls that may close the connection. */
  get closed(): boolean {
    return this.phase === "closed"
  }

  /** Starts reading from `stream` (after TLS negotiation). */
  attach(stream: net.Socket | tls.TLSSocket): void {
    this.stream = stream
    stream.on("data", (chunk: Buffer) => this.onData(chunk))
    stream.on("error", (err: Error) => {
      this.socketError = err
    })
    stream.on("close", () => this.onClose())
    if (stream.destroyed) {
      // it died between the handshake and now: report it like any close
      this.onClose()
      return
    }
    stream.resume()
  }

  /** Writes `buf` now, after the statements still waiting in `out` (wire order is kept). */
  write(buf: Buffer): void {
    if (this.phase === "closed") return
    this.flushOut()
    this.stream.write(buf)
  }

  /**
   * Sends the statements of this tick in one write. Deferred to the end of the event loop's
   * turn, so statements that many fibers issue after one socket read share one syscall.
   */
  private readonly flushOut = (): void => {
    this.flushScheduled = false
    if (this.out.length === 0 || this.phase === "closed") return
    this.stream.write(this.out.flush())
  }

  /** The op that owns the incoming messages. */
  private get active(): QueryOp | undefined {
    return this.inflight[0]
  }

  // ---------------------------------------------------------------------------------------------
  // framing

  private onData(chunk: Buffer): void {
    if (this.phase === "closed") return
    try {
      if (this.rlen === 0) {
        const consumed = this.parse(chunk, chunk.length)
        const rest = chunk.length - consumed
        if (rest > 0 && !this.closed) {
          this.ensure(rest)
          chunk.copy(this.rbuf, 0, consumed)
          this.rlen = rest
        }
      } else {
        this.ensure(this.rlen + chunk.length)
        chunk.copy(this.rbuf, this.rlen)
        this.rlen += chunk.length
        const consumed = this.parse(this.rbuf, this.rlen)
        if (consumed > 0 && !this.closed) {
          this.rbuf.copy(this.rbuf, 0, consumed, this.rlen)
          this.rlen -= consumed
        }
        if (this.rlen === 0 && this.rbuf.length > 4 * 1024 * 1024) this.rbuf = Buffer.allocUnsafe(INITIAL_BUFFER)
      }
    } catch (e) {
      const message = e instanceof MalformedMessage ? e.message : `cannot decode a server message: ${String(e)}`
      this.destroy(new PgProtocolError({ message }))
    }
  }

  private ensure(size: number): void {
    if (size <= this.rbuf.length) return
    const next = Buffer.allocUnsafe(Math.max(size, this.rbuf.length * 2))
    this.rbuf.copy(next, 0, 0, this.rlen)
    this.rbuf = next
  }

  /** Dispatches every complete message in `buf[0, len)`; returns the bytes consumed. */
  private parse(buf: Buffer, len: number): number {
    let pos = 0
    while (len - pos >= 1) {
      const type = buf[pos]!
      if (!isBackendType(type)) {
        throw new MalformedMessage(`unknown message type 0x${type.toString(16).padStart(2, "0")} from the server`)
      }
      if (len - pos < 5) break
      const length = buf.readInt32BE(pos + 1)
      if (length < 4 || length > this.options.maxMessageBytes) {
        throw new MalformedMessage(`invalid message length ${length} for message type '${String.fromCharCode(type)}'`)
      }
      const end = pos + 1 + length
      if (end > len) {
        // make room for the whole message at once rather than doubling repeatedly
        if (buf === this.rbuf) this.ensure(1 + length)
        break
      }
      this.dispatch(type, buf, pos + 5, end)
      pos = end
      if (this.closed) return pos
    }
    return pos
  }

  private dispatch(type: number, buf: Buffer, start: number, end: number): void {
    if (this.phase === "startup") {
      this.inbox.push({ type, body: Buffer.from(buf.subarray(start, end)) })
      if (type === Backend.ReadyForQuery) this.phase = "ready"
      if (type === Backend.ReadyForQuery) this.txStatus = statusOf(buf[start])
      const waiter = this.inboxWaiter
      this.inboxWaiter = undefined
      waiter?.()
      return
    }
    const op = this.inflight[0]
    switch (type) {
      case Backend.DataRow:
        if (op === undefined) throw new MalformedMessage("DataRow outside of a statement")
        op.dataRow(buf, start, end)
        return
      case Backend.RowDescription:
        if (op === undefined) throw new MalformedMessage("RowDescription outside of a statement")
        op.rowDescription(buf, start, end)
        return
      case Backend.CommandComplete: {
        if (op === undefined) throw new MalformedMessage("CommandComplete outside of a statement")
        const tag = cstringAt(buf, start, end)
        // the session's prepared statements are gone: forget them (and close none)
        if ((tag === "DISCARD ALL" || tag === "DEALLOCATE ALL") && this.statements !== undefined) {
          this.statements.clear()
        }
        op.commandComplete(tag)
        return
      }
      case Backend.ReadyForQuery:
        if (op === undefined) throw new MalformedMessage("ReadyForQuery outside of a statement")
        this.txStatus = statusOf(buf[start])
        // a batch with a Sync per statement gets one ReadyForQuery per statement
        if (!op.readyForQuery()) return
        if (op.shared && this.txStatus !== "idle") {
          // statements pipelined behind it would run inside its transaction: closing the
          // connection rolls it back, and every one of them fails (none took effect)
          this.destroy(
            new PgConnectionError({
              message: "a statement of another caller left a transaction block open on this shared connection; " +
                "the connection was closed and the transaction rolled back",
              phase: "query",
              host: this.options.hostLabel,
              cause: undefined
            }),
            new PgInputError({
              message: "a statement run outside a session left a transaction block open; it was rolled back " +
                "(use a transaction or a pinned connection for BEGIN/COMMIT)",
              sql: op.sql
            })
          )
          return
        }
        this.onReadyForQuery(op)
        return
      case Backend.ErrorResponse: {
        const fields = parseErrorFields(buf, start, end)
        if (op !== undefined) {
          op.error ??= serverError(fields, op.sql)
          op.serverErrorArrived()
        } else {
          this.idleFatal = serverError(fields, undefined)
        }
        return
      }
      case Backend.NoticeResponse:
        if (this.options.onNotice !== undefined) safely(this.options.onNotice, parseErrorFields(buf, start, end))
        return
      case Backend.ParameterStatus: {
        const [name, next] = readCString(buf, start, end)
        const value = readCString(buf, next, end)[0]
        this.parameters.set(name, value)
        if (name === "client_encoding" && value.toUpperCase() !== "UTF8") {
          // every string is decoded as UTF-8: a session in another encoding would corrupt data
          this.destroy(
            new PgConnectionError({
              message: `client_encoding was changed to ${value}; only UTF8 is supported, the connection is closed`,
              phase: "query",
              host: this.options.hostLabel,
              cause: undefined
            })
          )
        }
        return
      }
      case Backend.NotificationResponse: {
        const pid = buf.readInt32BE(start)
        const [channel, next] = readCString(buf, start + 4, end)
        const notification = { pid, channel, payload: readCString(buf, next, end)[0] }
        if (this.options.onNotification !== undefined) safely(this.options.onNotification, notification)
        for (const listener of this.listeners) listener.notify(notification)
        return
      }
      case Backend.EmptyQueryResponse:
        op?.emptyQuery()
        return
      case Backend.CopyInResponse:
        if (op === undefined) throw new MalformedMessage("CopyInResponse outside of a statement")
        if (!op.exclusive && this.inflight.length > 1) {
          // the server would read the next statement as COPY data: the session cannot be saved
          throw new MalformedMessage("COPY FROM STDIN started by a statement with others pipelined behind it")
        }
        op.copyIn()
        return
      case Backend.CopyOutResponse:
        if (op === undefined) throw new MalformedMessage("CopyOutResponse outside of a statement")
        op.copyOut()
        return
      case Backend.CopyData:
        if (op === undefined) throw new MalformedMessage("CopyData outside of a statement")
        op.copyData(buf, start, end)
        return
      case Backend.ParseComplete:
        if (op === undefined) throw new MalformedMessage("ParseComplete outside of a statement")
        op.parseComplete()
        return
      case Backend.NoData:
        if (op === undefined) throw new MalformedMessage("NoData outside of a statement")
        op.noData()
        return
      case Backend.PortalSuspended:
        if (op === undefined) throw new MalformedMessage("PortalSuspended outside of a statement")
        op.portalSuspended()
        return
      case Backend.ParameterDescription:
        if (op === undefined) throw new MalformedMessage("ParameterDescription outside of a statement")
        op.parameterDescription(buf, start, end)
        return
      case Backend.BindComplete:
      case Backend.CloseComplete:
      case Backend.CopyBothResponse:
      case Backend.CopyDone:
        if (op === undefined) {
          throw new MalformedMessage(`message '${String.fromCharCode(type)}' outside of a statement`)
        }
        return
      default:
        throw new MalformedMessage(`unexpected message '${String.fromCharCode(type)}' after startup`)
    }
  }

  // ---------------------------------------------------------------------------------------------
  // startup inbox

  /** Waits for the next startup message; `undefined` when the connection closed. */
  nextMessage(callback: (message: RawMessage | undefined) => void): void {
    const message = this.inbox.shift()
    if (message !== undefined) return callback(message)
    if (this.phase === "closed") return callback(undefined)
    this.inboxWaiter = () => this.nextMessage(callback)
  }

  cancelNextMessage(): void {
    this.inboxWaiter = undefined
  }

  // ---------------------------------------------------------------------------------------------
  // statements

  /** Ops queued or on the wire. */
  get pending(): number {
    return this.queue.length + this.inflight.length
  }

  get busy(): boolean {
    return this.inflight.length > 0 || this.drain !== undefined || this.queue.length > 0
  }

  enqueue(op: QueryOp): void {
    if (this.phase === "closed") {
      op.finish(this.unusable())
      return
    }
    this.queue.push(op)
    this.pump()
  }

  /** Sends queued ops while the pipeline has room; signals readiness when all is done. */
  private pump(): void {
    if (this.drain !== undefined || this.hold !== undefined || this.phase !== "ready") return
    const queue = this.queue
    const inflight = this.inflight
    // an idle connection sends at the end of this tick (latency); a busy one at the end of the
    // event loop's turn, when every reply of this turn has been handled (fewer syscalls)
    const idle = inflight.length === 0
    while (queue.length > 0) {
      const n = inflight.length
      if (n > 0) {
        const op = queue[0]!
        if (op.exclusive || inflight[n - 1]!.exclusive || n >= this.options.pipelineDepth) return
      }
      const op = queue.shift()!
      try {
        op.build(this.out)
      } catch (e) {
        // a message beyond 2 GiB cannot be framed (PostgreSQL's own limit is 1 GiB)
        op.finish(
          new PgInputError({
            message: `the statement cannot be sent: ${e instanceof Error ? e.message : String(e)}`,
            sql: op.sql
          })
        )
        continue
      }
      inflight.push(op)
      op.state = "active"
      if (!this.flushScheduled) {
        this.flushScheduled = true
        if (idle) process.nextTick(this.flushOut)
        else setImmediate(this.flushOut)
      }
    }
    if (inflight.length === 0) this.notifyReady()
  }

  /** Writes `buf`; `done` runs once the socket accepted it (at once, or at 'drain' or close). */
  writeWithBackpressure(buf: Buffer, done: () => void): void {
    if (this.phase === "closed") return done()
    this.flushOut()
    if (this.stream.write(buf)) return done()
    const stream = this.stream
    const settle = () => {
      stream.off("drain", settle)
      stream.off("close", settle)
      done()
    }
    stream.on("drain", settle)
    stream.on("close", settle)
  }

  /** Stops reading the socket (a consumer that is behind); the server then blocks. */
  pauseReading(): void {
    if (this.phase !== "closed") this.stream.pause()
  }

  resumeReading(): void {
    if (this.phase !== "closed") this.stream.resume()
  }

  /** A statement that retries itself (a stale cached statement) goes next. */
  requeue(op: QueryOp): void {
    this.queue.unshift(op)
  }

  private onReadyForQuery(op: QueryOp): void {
    this.inflight.shift()
    op.finish()
    const drain = this.drain
    if (drain !== undefined) {
      drain.rfq = true
      this.checkDrain()
      return
    }
    const hold = this.hold
    if (hold !== undefined && this.inflight[0] === hold) {
      // the held op is now the only one on the wire: a cancel can only hit it
      this.hold = undefined
      this.startDrain()
      return
    }
    this.pump()
  }

  /**
   * The caller of `op` was interrupted. Returns at once: a queued op is dropped; a sent one is
   * cancelled and drained in the background when that is safe, else abandoned (see the top).
   */
  interrupt(op: QueryOp): void {
    if (op.state === "queued") {
      const i = this.queue.indexOf(op)
      if (i >= 0) this.queue.splice(i, 1)
      op.state = "done"
      if (!this.busy) this.notifyReady()
      return
    }
    if (op.state !== "active" || this.phase === "closed") return
    op.abandoned = true
    // a statement built this tick is still in `out`: send it first, so that what follows
    // (cancel, hold or abandon) is about statements the server has been sent
    this.flushOut()
    // a drain or hold in progress already covers the last op on the wire
    if (this.drain !== undefined || this.hold !== undefined) return
    const inflight = this.inflight
    if (inflight[inflight.length - 1] !== op) return // followers on the wire: abandoned
    if (inflight[0] === op) this.startDrain()
    else this.hold = op
  }

  /** Cancels the only op on the wire; nothing is sent until it is confirmed finished. */
  private startDrain(): void {
    const timer = setTimeout(() => {
      this.destroy(
        new PgTimeoutError({
          message:
            `the interrupted statement could not be confirmed finished within ${this.options.cancelTimeoutMillis} ms`,
          phase: "cancel",
          host: this.options.hostLabel
        })
      )
    }, this.options.cancelTimeoutMillis)
    const drain: Drain = {
      rfq: false,
      cancelDone: false,
      timer,
      side: undefined,
      retry: undefined,
      retryDelay: CANCEL_RETRY_MILLIS
    }
    this.drain = drain
    this.sendCancel(drain)
  }

  /**
   * Opens a side socket and sends a CancelRequest. `onClosed(sent)` runs once the server has
   * closed it (`sent`: the request went out) or it failed. The socket never outlives
   * `cancelTimeout`, so a server that does not answer cannot leak it.
   */
  private fireCancel(onClosed: (sent: boolean) => void): net.Socket {
    const target = this.options.cancelTarget
    const side = target.host.startsWith("/")
      ? net.connect({ path: `${target.host}/.s.PGSQL.${target.port}` })
      : net.connect({ host: target.host, port: target.port })
    let connected = false
    const packet = cancelRequest(this.backendPid, this.backendSecret)
    side.setTimeout(this.options.cancelTimeoutMillis, () => side.destroy())
    side.on("connect", () => {
      connected = true
      side.end(packet)
    })
    side.on("error", () => {})
    side.on("close", () => onClosed(connected))
    side.resume()
    return side
  }

  private sendCancel(drain: Drain): void {
    drain.side = this.fireCancel((sent) => {
      if (this.drain !== drain) return
      if (!sent) {
        this.destroy(
          new PgConnectionError({
            message: "could not open the side connection for a CancelRequest",
            phase: "query",
            host: this.options.hostLabel,
            cause: undefined
          })
        )
        return
      }
      // the server closes the cancel connection after signalling the backend
      drain.cancelDone = true
      if (drain.rfq) return this.checkDrain()
      // A cancel that reaches a backend still waiting for the statement's bytes is discarded,
      // so the statement may run on. Another cancel is as safe as the first (nothing else is
      // sent while draining): try again, backing off, until ReadyForQuery or cancelTimeout.
      drain.retry = setTimeout(() => {
        drain.retry = undefined
        if (this.drain !== drain || drain.rfq) return
        drain.cancelDone = false
        this.sendCancel(drain)
      }, drain.retryDelay)
      drain.retryDelay = Math.min(drain.retryDelay * 2, CANCEL_RETRY_MAX_MILLIS)
    })
  }

  private checkDrain(): void {
    const drain = this.drain
    if (drain === undefined || !drain.rfq || !drain.cancelDone) return
    clearTimeout(drain.timer)
    if (drain.retry !== undefined) clearTimeout(drain.retry)
    this.drain = undefined
    this.pump()
  }

  /** Calls `f` once nothing is queued, running, or draining (or the connection closed). */
  whenReady(f: () => void): () => void {
    if (!this.busy || this.phase === "closed") {
      f()
      return () => {}
    }
    this.readyWaiters.push(f)
    return () => {
      this.readyWaiters = this.readyWaiters.filter((w) => w !== f)
    }
  }

  private notifyReady(): void {
    const waiters = this.readyWaiters
    this.readyWaiters = []
    for (const w of waiters) w()
  }

  // ---------------------------------------------------------------------------------------------
  // closing

  /** The error a caller gets from a connection that can no longer be used. */
  unusable(): PgError {
    const reason = this.brokenBy
    if (reason === undefined || reason._tag === "PgConnectionError") {
      return reason ?? new PgConnectionError({
        message: "the connection is closed",
        phase: "closed",
        host: this.options.hostLabel,
        cause: undefined
      })
    }
    return new PgConnectionError({
      message: `the connection is broken: ${reason.message}`,
      phase: "closed",
      host: this.options.hostLabel,
      cause: reason
    })
  }

  private onClose(): void {
    if (this.phase === "closed") return
    if (this.rlen > 0) {
      this.destroy(
        new PgProtocolError({
          message: `the connection closed in the middle of a message (truncated frame, ${this.rlen} bytes)`
        })
      )
      return
    }
    const active = this.active
    const fatal = active?.error ?? this.idleFatal
    const detail = this.socketError !== undefined ? `: ${this.socketError.message}` : ""
    this.destroy(
      new PgConnectionError({
        message: fatal !== undefined
          ? `the server closed the connection: ${fatal.message}`
          : `the server closed the connection${detail}`,
        phase: active !== undefined ? "query" : this.phase === "startup" ? "startup" : "closed",
        host: this.options.hostLabel,
        cause: fatal ?? this.socketError
      }),
      // a statement that got a FATAL ErrorResponse reports that (e.g. 57P01 admin shutdown)
      active?.error
    )
  }

  /** Marks the connection broken, closes the socket, fails everyone waiting. */
  destroy(reason: PgError, activeFailure?: PgError, keepStream = false): void {
    if (this.phase === "closed") return
    this.phase = "closed"
    this.brokenBy = reason
    if (!keepStream) this.stream.destroy()
    const drain = this.drain
    this.drain = undefined
    // a cancel already under way is left to finish: the server should still stop the statement
    if (drain !== undefined) {
      clearTimeout(drain.timer)
      if (drain.retry !== undefined) clearTimeout(drain.retry)
    }
    this.hold = undefined
    const sent = this.inflight.splice(0)
    for (let i = 0; i < sent.length; i++) sent[i]!.finish(i === 0 ? activeFailure ?? reason : reason)
    const queued = this.queue.splice(0)
    for (const op of queued) op.finish(reason)
    const waiter = this.inboxWaiter
    this.inboxWaiter = undefined
    waiter?.()
    this.rbuf = Buffer.allocUnsafe(0)
    this.rlen = 0
    const listeners = [...this.listeners]
    this.listeners.clear()
    for (const listener of listeners) listener.fail(this.unusable())
    this.notifyReady()
  }

  /** Sends Terminate and closes; `done` runs when the socket is gone (or after `timeoutMillis`). */
  terminate(timeoutMillis: number, done: () => void): void {
    const stream = this.stream
    if (this.phase !== "closed") {
      // a statement still running would otherwise keep the backend busy until it ends
      if (this.inflight.length > 0 && this.drain === undefined && this.backendPid !== 0) this.fireCancel(() => {})
      this.flushOut()
      const terminate = this.writer.begin(Frontend.Terminate).end().flush()
      this.destroy(
        new PgConnectionError({
          message: "the connection is closed",
          phase: "closed",
          host: this.options.hostLabel,
          cause: undefined
        }),
        undefined,
        true
      )
      stream.end(terminate)
    }
    if (stream.destroyed || stream.closed) {
      done()
      return
    }
    const timer = setTimeout(() => stream.destroy(), timeoutMillis)
    stream.once("close", () => {
      clearTimeout(timer)
      done()
    })
  }
}

/** A user callback must not be able to desynchronise the connection by throwing. */
const safely = <A>(f: (a: A) => void, a: A): void => {
  try {
    f(a)
  } catch {
    // ignored on purpose: the callback's problem, not the protocol's
  }
}

const statusOf = (byte: number | undefined): TxStatus =>
  byte === 0x54 ? "transaction" : byte === 0x45 ? "failed" : "idle"
