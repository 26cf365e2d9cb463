/**
 * The pool's state machine.
 *
 * All state is plain mutable fields of one object. JavaScript runs one fiber step at a time,
 * so every state transition below is a synchronous block that no other fiber can observe
 * half-done; the only places a fiber can be suspended or interrupted are the explicit
 * `restore(...)` regions (waiting, user hooks), and each of them is followed by a handler
 * that puts the state back in order whatever the outcome. That keeps the uncontended path
 * (`get` finds an idle resource, the lease scope closes, the resource goes back) free of
 * Refs, fibers and clocks.
 *
 * Resource lifecycle (`Entry.state`):
 *
 *   (acquire ok) --> IDLE <--> LEASED --> CLOSING --> CLOSED
 *                      \____________________^
 *
 * LEASED also covers a resource the health check is validating. Capacity is
 * `open (idle + leased) + constructing + closing <= maxOpen`: a resource still running its
 * finalizer holds its slot, so the server never sees more than `maxOpen` sessions.
 */
import {
  Cause,
  type Clock,
  Deferred,
  Duration,
  Effect,
  Exit,
  type Fiber,
  FiberId,
  Random,
  Runtime,
  RuntimeFlags,
  Scope
} from "effect"
import * as Label from "effect/MetricLabel"
import { pipeArguments } from "effect/Pipeable"
import type * as Api from "../Pool.js"
import { PoolClosed, PoolTimeout } from "../PoolError.js"
import * as Metrics from "../PoolMetrics.js"
import type { Resolved } from "./config.js"
import { Waiter, WaiterQueue } from "./waiters.js"

/** Where a lease was taken (leak detection only): the caller's stack and current span. */
export interface LeaseSite {
  readonly stack: Error
  readonly span: string | undefined
}

/** @internal */
export const TypeId: unique symbol = Symbol.for("@berth/pool/Pool")

const IDLE = 0
const LEASED = 1
const CLOSING = 2
const CLOSED = 3

/** Why a resource was closed; each destroy increments exactly one counter. */
export type CloseReason = "maxIdle" | "maxIdleTime" | "maxLifetime" | "healthCheck" | "broken" | "poolClose"

const reasonLabel: Record<CloseReason, string> = {
  maxIdle: "max_idle",
  maxIdleTime: "max_idle_time",
  maxLifetime: "max_lifetime",
  healthCheck: "health_check",
  broken: "broken",
  poolClose: "pool_close"
}

/** One pooled resource and its bookkeeping. */
export class Entry<A> {
  state: number = LEASED
  /** Last time it went idle (or was validated), in clock millis. */
  idleSince: number
  /** Marked by `invalidate` (or a failed hook): destroyed on release. */
  broken = false
  leakFiber: Fiber.RuntimeFiber<void> | undefined = undefined
  constructor(
    readonly resource: A,
    readonly scope: Scope.CloseableScope,
    readonly createdAt: number,
    readonly expiresAt: number
  ) {
    this.idleSince = createdAt
  }
}

type GetError<E> = E | PoolTimeout | PoolClosed

/** The counters behind `stats`. */
interface Counters {
  waitCount: number
  waitMillis: number
  acquireCount: number
  acquireMillis: number
  canceledAcquireCount: number
  timeoutCount: number
  newCount: number
  createErrorCount: number
  leakWarnings: number
  closed: Record<CloseReason, number>
}

const zeroCounters = (): Counters => ({
  waitCount: 0,
  waitMillis: 0,
  acquireCount: 0,
  acquireMillis: 0,
  canceledAcquireCount: 0,
  timeoutCount: 0,
  newCount: 0,
  createErrorCount: 0,
  leakWarnings: 0,
  closed: { maxIdle: 0, maxIdleTime: 0, maxLifetime: 0, healthCheck: 0, broken: 0, poolClose: 0 }
})

/** The pool. */
export class PoolImpl<A, E, R> implements Api.Pool<A, E> {
  readonly [TypeId] = {
    _A: (a: A) => a,
    _E: (e: never): E => e
  }

  // --- state -------------------------------------------------------------------------
  /** Idle resources; the most recently returned is at the end and is handed out first. */
  readonly idle: Array<Entry<A>> = []
  readonly waiters = new WaiterQueue<Entry<A>, GetError<E>>()
  /** Every resource not yet destroyed, for `invalidate` and for the final close. */
  readonly entries = new Map<A, Entry<A>>()
  inUse = 0
  constructing = 0
  closing = 0
  closed = false
  readonly counters: Counters = zeroCounters()
  private flushed: Counters = zeroCounters()

  // --- background work -----------------------------------------------------------------
  private readonly creations = new Set<Fiber.RuntimeFiber<void>>()
  private timerFiber: Fiber.RuntimeFiber<void> | undefined = undefined
  private backgroundFibers: Array<Fiber.RuntimeFiber<void>> = []
  private closeDone: Deferred.Deferred<void> | undefined = undefined
  /** During close: resolved when the last lease ends. */
  private leasesDone: Deferred.Deferred<void> | undefined = undefined
  /** During close: resolved when the last creation and the last destroy have finished. */
  private destroysDone: Deferred.Deferred<void> | undefined = undefined
  private lastHealthCheck: number
  private readonly tags: ReadonlyArray<Label.MetricLabel>
  private readonly reasonTags: Record<CloseReason, ReadonlyArray<Label.MetricLabel>>
  /** Resources reserved by a running health check. */
  private readonly checking = new Set<Entry<A>>()
  private readonly runFork: <X>(effect: Effect.Effect<X, never, R>) => Fiber.RuntimeFiber<X>
  private readonly needsClock: boolean

  /** `get` without leak detection: one Effect value reused by every call. */
  readonly getEffect: Effect.Effect<A, GetError<E>, Scope.Scope>

  constructor(
    readonly config: Resolved,
    readonly options: Api.Options<A, E, R>,
    readonly runtime: Runtime.Runtime<R>,
    readonly clock: Clock.Clock
  ) {
    this.lastHealthCheck = clock.unsafeCurrentTimeMillis()
    this.tags = [Label.make("pool", config.name)]
    this.reasonTags = Object.fromEntries(
      (Object.keys(reasonLabel) as Array<CloseReason>).map((reason) => [
        reason,
        [...this.tags, Label.make("reason", reasonLabel[reason])]
      ])
    ) as unknown as Record<CloseReason, ReadonlyArray<Label.MetricLabel>>
    // the runtime was captured inside make's uninterruptible acquire; background fibers must
    // be interruptible or close could not stop them
    this.runFork = Runtime.runFork(Runtime.enableRuntimeFlag(runtime, RuntimeFlags.Interruption))
    this.needsClock = Number.isFinite(config.maxLifetime) || Number.isFinite(config.maxIdleTime) ||
      options.validate !== undefined
    this.getEffect = this.makeGet(undefined)
  }

  pipe() {
    // eslint-disable-next-line prefer-rest-params
    return pipeArguments(this, arguments)
  }

  toJSON() {
    return { _id: "Pool", name: this.config.name, stats: this.stats() }
  }

  toString() {
    return `Pool(${this.config.name})`
  }

  private now(): number {
    return this.clock.unsafeCurrentTimeMillis()
  }

  /**
   * Starts background work. `runFork` runs a fiber synchronously up to its first suspension;
   * yielding first keeps the caller's state transition atomic (no re-entrancy).
   */
  private fork<X>(effect: Effect.Effect<X, never, R>): Fiber.RuntimeFiber<X> {
    return this.runFork(Effect.zipRight(Effect.yieldNow(), effect))
  }

  // --- get -------------------------------------------------------------------------------

  /** Builds the `get` effect; `site` is the caller's stack when leak detection is on. */
  makeGet(site: LeaseSite | undefined): Effect.Effect<A, GetError<E>, Scope.Scope> {
    return Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Effect.scope, (scope) => {
        const entry = this.takeIdleFast()
        if (entry !== undefined) {
          this.counters.acquireCount++
          return this.lease(scope, entry, site)
        }
        return Effect.flatMap(this.acquireSlow(restore), (entry) => this.lease(scope, entry, site))
      })
    )
  }

  /**
   * `use` without a Scope: the lease is the region of `f`, released by `onExit`. Same state
   * machine as `get`, one allocation-light layer fewer.
   */
  use<B, E2, R2>(
    f: (resource: A) => Effect.Effect<B, E2, R2>,
    site: LeaseSite | undefined
  ): Effect.Effect<B, GetError<E> | E2, R2> {
    return Effect.uninterruptibleMask((restore) => {
      const entry = this.takeIdleFast()
      if (entry !== undefined) {
        this.counters.acquireCount++
        return this.runLease(restore, entry, f, site)
      }
      return Effect.flatMap(this.acquireSlow(restore), (entry) => this.runLease(restore, entry, f, site))
    })
  }

  private runLease<B, E2, R2>(
    restore: <X, Y, Z>(effect: Effect.Effect<X, Y, Z>) => Effect.Effect<X, Y, Z>,
    entry: Entry<A>,
    f: (resource: A) => Effect.Effect<B, E2, R2>,
    site: LeaseSite | undefined
  ): Effect.Effect<B, E2 | PoolClosed, R2> {
    if (entry.state !== LEASED) return Effect.fail(new PoolClosed({ pool: this.config.name }))
    if (this.config.leakDetectionThreshold !== Infinity) this.watchLeak(entry, site)
    return Effect.onExit(restore(Effect.suspend(() => f(entry.resource))), (exit) => this.release(entry, exit))
  }

  /**
   * The uncontended case: an idle resource that needs no validation and no hook. Entries
   * that may not be handed out (expired, unusable) are destroyed on the way.
   */
  private takeIdleFast(): Entry<A> | undefined {
    if (this.options.onAcquire !== undefined || this.options.validate !== undefined) return undefined
    const entry = this.popIdle()
    if (entry !== undefined && this.config.minIdle > 0) this.fill()
    return entry
  }

  /** Pops the most recently used idle resource that may be handed out, or undefined. */
  private popIdle(): Entry<A> | undefined {
    const isUsable = this.options.isUsable
    const now = this.needsClock ? this.now() : 0
    let entry: Entry<A> | undefined
    while ((entry = this.idle.pop()) !== undefined) {
      if (now >= entry.expiresAt) {
        this.destroy(entry, "maxLifetime")
      } else if (now - entry.idleSince >= this.config.maxIdleTime) {
        this.destroy(entry, "maxIdleTime")
      } else if (isUsable !== undefined && !this.usable(entry)) {
        this.destroy(entry, "broken")
      } else {
        entry.state = LEASED
        this.inUse++
        return entry
      }
    }
    return undefined
  }

  private usable(entry: Entry<A>): boolean {
    try {
      return this.options.isUsable === undefined || this.options.isUsable(entry.resource)
    } catch {
      return false
    }
  }

  private acquireSlow(
    restore: <X, Y, Z>(effect: Effect.Effect<X, Y, Z>) => Effect.Effect<X, Y, Z>
  ): Effect.Effect<Entry<A>, GetError<E>> {
    return Effect.suspend(() => {
      if (this.closed) return Effect.fail(new PoolClosed({ pool: this.config.name }))
      return this.acquireFrom(restore, this.now())
    })
  }

  private acquireFrom(
    restore: <X, Y, Z>(effect: Effect.Effect<X, Y, Z>) => Effect.Effect<X, Y, Z>,
    start: number
  ): Effect.Effect<Entry<A>, GetError<E>> {
    if (this.closed) return Effect.fail(new PoolClosed({ pool: this.config.name }))
    const entry = this.popIdle()
    if (entry !== undefined) {
      if (this.config.minIdle > 0) this.fill()
      return this.checkout(restore, entry, start, true)
    }
    return this.wait(restore, start)
  }

  /**
   * Runs validation (for a resource that sat idle long enough) and `onAcquire` on a reserved
   * entry. A resource that fails validation is destroyed and the caller tries again; a
   * failing `onAcquire` destroys the resource and fails the caller with its error.
   */
  private checkout(
    restore: <X, Y, Z>(effect: Effect.Effect<X, Y, Z>) => Effect.Effect<X, Y, Z>,
    entry: Entry<A>,
    start: number,
    fromIdle: boolean
  ): Effect.Effect<Entry<A>, GetError<E>> {
    const { onAcquire, validate } = this.options
    const needsValidation = validate !== undefined && fromIdle &&
      this.now() - entry.idleSince > this.config.validateAfterIdle
    if (!needsValidation && onAcquire === undefined) return this.acquired(entry, start)
    const validation: Effect.Effect<boolean> = needsValidation ? this.runValidate(entry) : Effect.succeed(true)
    const hooks: Effect.Effect<boolean, E> = onAcquire === undefined ? validation : Effect.flatMap(
      validation,
      (ok) =>
        ok ? Effect.as(Effect.provide(onAcquire(entry.resource), this.runtime.context), true) : Effect.succeed(false)
    )
    return Effect.matchCauseEffect(restore(hooks), {
      onSuccess: (ok) => {
        if (ok) return this.acquired(entry, start)
        this.drop(entry, "healthCheck")
        return this.acquireFrom(restore, start)
      },
      onFailure: (cause) => {
        this.drop(entry, "broken")
        if (Cause.isInterruptedOnly(cause)) this.counters.canceledAcquireCount++
        return Effect.failCause(cause)
      }
    })
  }

  private acquired(entry: Entry<A>, start: number): Effect.Effect<Entry<A>> {
    this.counters.acquireCount++
    this.counters.acquireMillis += this.now() - start
    return Effect.succeed(entry)
  }

  /** A validation that hangs, fails or dies counts as "not valid". */
  private runValidate(entry: Entry<A>): Effect.Effect<boolean> {
    const validate = this.options.validate!
    return bounded(validate(entry.resource), this.config.validateTimeout, false)
  }

  /** Queues the caller and suspends until it is handed a resource, an error, or times out. */
  private wait(
    restore: <X, Y, Z>(effect: Effect.Effect<X, Y, Z>) => Effect.Effect<X, Y, Z>,
    start: number
  ): Effect.Effect<Entry<A>, GetError<E>> {
    const deadline = start + this.config.acquireTimeout
    if (this.now() >= deadline) return this.timeoutError(start)
    const waiter = new Waiter<Entry<A>, GetError<E>>(start, deadline)
    this.waiters.insert(waiter)
    this.fill()
    // as in database/sql, a caller for whom a resource is being created is not "waiting";
    // only one that found the pool exhausted (no creation left for it) is counted
    waiter.counted = this.constructing < this.waiters.length
    if (waiter.counted) this.counters.waitCount++
    if (deadline !== Infinity && this.timerFiber === undefined) this.timerFiber = this.fork(this.timer)
    const suspended = Effect.async<Entry<A>, GetError<E>>((resume) => {
      if (waiter.outcome !== undefined) resume(waiter.outcome)
      else waiter.resume = resume
    })
    return Effect.matchCauseEffect(restore(suspended), {
      onSuccess: (entry) => {
        waiter.entry = undefined
        if (waiter.counted) this.counters.waitMillis += this.now() - start
        return this.checkout(restore, entry, start, false)
      },
      onFailure: (cause) => {
        if (waiter.counted) this.counters.waitMillis += this.now() - start
        waiter.resume = undefined
        if (waiter.queued) {
          // interrupted while queued
          this.waiters.remove(waiter)
          this.counters.canceledAcquireCount++
        } else if (waiter.entry !== undefined) {
          // interrupted right after being handed a resource: give it back
          const entry = waiter.entry
          waiter.entry = undefined
          this.counters.canceledAcquireCount++
          if (entry.state === LEASED) {
            this.leaseEnded(entry)
            if (this.closed) this.destroy(entry, "poolClose")
            else this.put(entry)
          }
        }
        return Effect.failCause(cause)
      }
    })
  }

  private timeoutError(start: number): Effect.Effect<never, PoolTimeout> {
    this.counters.timeoutCount++
    return Effect.fail(
      new PoolTimeout({
        pool: this.config.name,
        waited: Duration.millis(Math.max(0, this.now() - start)),
        stats: this.stats()
      })
    )
  }

  /**
   * One fiber times out every waiter: the queue is ordered by start time and every caller
   * has the same timeout, so the head always has the earliest deadline.
   */
  private readonly timer: Effect.Effect<void> = Effect.suspend(() => {
    const now = this.now()
    let head = this.waiters.head
    while (head !== undefined && head.deadline <= now) {
      this.waiters.deliver(head, this.timeoutError(head.start))
      head = this.waiters.head
    }
    if (head === undefined) {
      this.timerFiber = undefined
      return Effect.void
    }
    return Effect.zipRight(Effect.sleep(head.deadline - now), this.timer)
  })

  /** Registers the lease on the caller's scope. */
  private lease(scope: Scope.Scope, entry: Entry<A>, site: LeaseSite | undefined): Effect.Effect<A, PoolClosed> {
    // close may have force-destroyed a resource handed to a caller that had not resumed yet
    if (entry.state !== LEASED) return Effect.fail(new PoolClosed({ pool: this.config.name }))
    if (this.config.leakDetectionThreshold !== Infinity) this.watchLeak(entry, site)
    return Effect.as(Scope.addFinalizerExit(scope, (exit) => this.release(entry, exit)), entry.resource)
  }

  // --- release ---------------------------------------------------------------------------

  /** The lease scope's finalizer. */
  release(entry: Entry<A>, exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    const onRelease = this.options.onRelease
    if (onRelease === undefined || entry.state !== LEASED || entry.broken || this.closed) {
      return Effect.sync(() => this.finishRelease(entry, true))
    }
    return Effect.flatMap(
      bounded(
        Effect.map(onRelease(entry.resource, exit), (decision) => decision === "reuse"),
        this.config.releaseTimeout,
        false
      ),
      (reuse) => Effect.sync(() => this.finishRelease(entry, reuse))
    )
  }

  private finishRelease(entry: Entry<A>, reuse: boolean): void {
    // a lease the pool already force-closed (close timed out) has nothing left to return
    if (entry.state !== LEASED) return
    this.leaseEnded(entry)
    if (this.closed) this.destroy(entry, "poolClose")
    else if (!reuse || entry.broken || !this.usable(entry)) this.destroy(entry, "broken")
    else if (this.config.maxLifetime !== Infinity && this.now() >= entry.expiresAt) this.destroy(entry, "maxLifetime")
    else this.put(entry)
  }

  /** Destroys a reserved entry the caller will not get (unless close already did). */
  private drop(entry: Entry<A>, reason: CloseReason): void {
    if (entry.state !== LEASED) return
    this.leaseEnded(entry)
    this.destroy(entry, this.closed ? "poolClose" : reason)
  }

  /** Bookkeeping when an entry stops being leased (it is about to be put back or destroyed). */
  private leaseEnded(entry: Entry<A>): void {
    this.inUse--
    if (entry.leakFiber !== undefined) {
      entry.leakFiber.unsafeInterruptAsFork(FiberId.none)
      entry.leakFiber = undefined
    }
    if (this.inUse === 0 && this.leasesDone !== undefined) Deferred.unsafeDone(this.leasesDone, Exit.void)
  }

  /**
   * A usable resource with no owner: straight to the oldest waiter, else idle, else (idle
   * is full) closed.
   */
  private put(entry: Entry<A>, idleSince?: number): void {
    const waiter = this.waiters.head
    if (waiter !== undefined) {
      entry.state = LEASED
      this.inUse++
      waiter.entry = entry
      this.waiters.deliver(waiter, Effect.succeed(entry))
    } else if (this.idle.length < this.config.maxIdle) {
      entry.state = IDLE
      if (this.needsClock) entry.idleSince = idleSince ?? this.now()
      this.idle.push(entry)
    } else {
      entry.state = LEASED // destroy expects an owned entry
      this.destroy(entry, "maxIdle")
    }
  }

  // --- creation --------------------------------------------------------------------------

  /** Starts creations for queued callers and for `minIdle`, within `maxOpen`. */
  fill(): void {
    while (
      !this.closed &&
      this.constructing < this.waiters.length + Math.max(0, this.config.minIdle - this.idle.length) &&
      this.idle.length + this.inUse + this.constructing + this.closing < this.config.maxOpen
    ) {
      this.constructing++
      const fiber = this.fork(this.create)
      this.creations.add(fiber)
      fiber.addObserver(() => this.creations.delete(fiber))
    }
  }

  /**
   * One attempt: a fresh scope for the resource, `acquire` and `onCreate` in it. Success
   * registers the entry in the same uninterruptible step, so an interruption can never
   * leave a created resource unowned; failure closes the scope.
   */
  private readonly attempt: Effect.Effect<void, E, R> = Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Scope.make(), (scope) => {
      const onCreate = this.options.onCreate
      const acquire = Scope.extend(this.options.acquire, scope)
      const created: Effect.Effect<A, E, R> = onCreate === undefined
        ? acquire
        : Effect.tap(acquire, (resource) => onCreate(resource))
      return Effect.matchCauseEffect(restore(created), {
        onFailure: (cause) => Effect.zipRight(Scope.close(scope, Exit.failCause(cause)), Effect.failCause(cause)),
        onSuccess: (resource) =>
          this.config.maxLifetimeJitter > 0
            ? Effect.flatMap(
              Random.nextRange(0, this.config.maxLifetimeJitter),
              (jitter) => Effect.sync(() => this.created(resource, scope, jitter))
            )
            : Effect.sync(() => this.created(resource, scope, 0))
      })
    })
  )

  private readonly create: Effect.Effect<void, never, R> = Effect.uninterruptibleMask((restore) => {
    const retry = this.options.createRetry
    const attempts = retry === undefined ? this.attempt : Effect.retry(this.attempt, retry)
    return Effect.catchAllCause(restore(attempts), (cause) => Effect.sync(() => this.createFailed(cause)))
  })

  private created(resource: A, scope: Scope.CloseableScope, jitter: number): void {
    this.constructing--
    this.counters.newCount++
    const now = this.now()
    const entry = new Entry(resource, scope, now, now + this.config.maxLifetime - jitter)
    this.entries.set(resource, entry)
    if (this.closed) this.destroy(entry, "poolClose")
    else this.put(entry)
  }

  private createFailed(cause: Cause.Cause<E>): void {
    this.constructing--
    if (this.closed || Cause.isInterruptedOnly(cause)) {
      this.checkDrained()
      return
    }
    this.counters.createErrorCount++
    const waiter = this.waiters.head
    if (waiter !== undefined) {
      this.waiters.deliver(waiter, Effect.failCause(cause))
    } else {
      this.fork(Effect.logWarning("pool: creating a resource failed", cause).pipe(this.annotate))
    }
    this.fill()
  }

  // --- destruction -----------------------------------------------------------------------

  /** Closes an entry's scope in the background; exactly once per entry. */
  destroy(entry: Entry<A>, reason: CloseReason): void {
    if (entry.state === CLOSING || entry.state === CLOSED) return
    if (entry.state === IDLE) {
      const index = this.idle.indexOf(entry)
      if (index >= 0) this.idle.splice(index, 1)
    }
    entry.state = CLOSING
    this.closing++
    this.counters.closed[reason]++
    this.entries.delete(entry.resource)
    if (entry.leakFiber !== undefined) {
      entry.leakFiber.unsafeInterruptAsFork(FiberId.none)
      entry.leakFiber = undefined
    }
    this.fork(
      Effect.ensuring(
        Scope.close(entry.scope, Exit.void),
        Effect.sync(() => {
          entry.state = CLOSED
          this.closing--
          this.fill()
          this.checkDrained()
        })
      )
    )
  }

  private checkDrained(): void {
    if (this.destroysDone !== undefined && this.closing === 0 && this.constructing === 0) {
      Deferred.unsafeDone(this.destroysDone, Exit.void)
    }
  }

  // --- invalidate ----------------------------------------------------------------------

  invalidate(resource: A): void {
    const entry = this.entries.get(resource)
    if (entry === undefined) return
    if (entry.state === IDLE) this.destroy(entry, "broken")
    else entry.broken = true
  }

  // --- leak detection ------------------------------------------------------------------

  private watchLeak(entry: Entry<A>, site: LeaseSite | undefined): void {
    const threshold = this.config.leakDetectionThreshold
    entry.leakFiber = this.fork(
      Effect.sleep(threshold).pipe(
        Effect.zipRight(Effect.suspend(() => {
          this.counters.leakWarnings++
          return Effect.logWarning(
            `pool: a lease has been held for more than ${Duration.format(Duration.millis(threshold))} ` +
              "(possible leak); acquired at:\n" + formatSite(site)
          )
        })),
        this.annotate
      )
    )
  }

  private readonly annotate = <X, Y, Z>(effect: Effect.Effect<X, Y, Z>) =>
    Effect.annotateLogs(effect, "pool", this.config.name)

  // --- maintenance ---------------------------------------------------------------------

  /** Starts the maintenance and metrics loops (called once by `make`). */
  start(): void {
    this.fill()
    const maintenance = Effect.sleep(this.config.maintenanceInterval).pipe(
      Effect.zipRight(Effect.suspend(() => this.maintain())),
      Effect.forever
    )
    this.backgroundFibers.push(this.fork(maintenance))
    if (this.options.metrics !== false) {
      this.flushMetrics()
      this.backgroundFibers.push(this.fork(
        Effect.sleep(this.config.metricsInterval).pipe(
          Effect.zipRight(Effect.sync(() => this.flushMetrics())),
          Effect.forever
        )
      ))
    }
  }

  /**
   * Closes idle resources past their lifetime or idle time, validates idle resources when a
   * health check is due, and refills `minIdle`.
   */
  maintain(): Effect.Effect<void> {
    if (this.closed) return Effect.void
    const now = this.now()
    for (const entry of this.idle.slice()) {
      if (now >= entry.expiresAt) this.destroy(entry, "maxLifetime")
      else if (now - entry.idleSince >= this.config.maxIdleTime) this.destroy(entry, "maxIdleTime")
      else if (!this.usable(entry)) this.destroy(entry, "broken")
    }
    const check = this.options.validate !== undefined && now - this.lastHealthCheck >= this.config.healthCheckInterval
    if (!check) {
      this.fill()
      return Effect.void
    }
    this.lastHealthCheck = now
    // reserve the resources to check, so no caller can take one while it is being validated
    const reserved: Array<Entry<A>> = []
    for (const entry of this.idle.slice()) {
      if (now - entry.idleSince <= this.config.validateAfterIdle) continue
      this.idle.splice(this.idle.indexOf(entry), 1)
      entry.state = LEASED
      this.inUse++
      this.checking.add(entry)
      reserved.push(entry)
    }
    this.fill()
    return Effect.forEach(reserved, (entry) =>
      Effect.flatMap(this.runValidate(entry), (ok) =>
        Effect.sync(() => {
          this.checking.delete(entry)
          if (entry.state !== LEASED) return
          this.leaseEnded(entry)
          if (ok && !this.closed) {
            // a health check is not a use: the idle clock keeps running
            this.put(entry, entry.idleSince)
          } else {
            this.destroy(entry, ok ? "poolClose" : "healthCheck")
          }
        })), { discard: true })
  }

  // --- close -----------------------------------------------------------------------------

  close(): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.closeDone !== undefined) return Deferred.await(this.closeDone)
      const done = Deferred.unsafeMake<void>(FiberId.none)
      this.closeDone = done
      this.closed = true
      const closedError = Effect.fail(new PoolClosed({ pool: this.config.name }))
      while (this.waiters.head !== undefined) this.waiters.deliver(this.waiters.head, closedError)
      for (const entry of this.idle.slice()) this.destroy(entry, "poolClose")
      const background = [...this.backgroundFibers, ...this.creations]
      if (this.timerFiber !== undefined) background.push(this.timerFiber)
      this.backgroundFibers = []
      return Effect.gen(this, function*() {
        for (const fiber of background) yield* fiber.interruptAsFork(FiberId.none)
        yield* Effect.forEach(background, (fiber) => fiber.await, { discard: true })
        // resources an interrupted health check had reserved
        for (const entry of this.checking) {
          if (entry.state === LEASED) {
            this.leaseEnded(entry)
            this.destroy(entry, "poolClose")
          }
        }
        this.checking.clear()
        // in-flight leases may finish, up to closeTimeout
        if (this.inUse > 0) {
          this.leasesDone = Deferred.unsafeMake<void>(FiberId.none)
          yield* bounded(Deferred.await(this.leasesDone), this.config.closeTimeout, undefined)
        }
        for (const entry of [...this.entries.values()]) {
          if (entry.state === LEASED) {
            this.leaseEnded(entry)
            this.destroy(entry, "poolClose")
          }
        }
        // every resource's finalizer has finished when close returns
        if (this.closing > 0 || this.constructing > 0) {
          this.destroysDone = Deferred.unsafeMake<void>(FiberId.none)
          yield* Deferred.await(this.destroysDone)
        }
        this.flushMetrics()
        yield* Deferred.succeed(done, undefined)
      })
    }).pipe(Effect.uninterruptible)
  }

  // --- stats & metrics -------------------------------------------------------------------

  /** A `get` now would not queue. */
  hasCapacity(): boolean {
    if (this.closed || this.waiters.length > 0) return false
    return this.idle.length > 0 ||
      this.idle.length + this.inUse + this.constructing + this.closing < this.config.maxOpen
  }

  stats(): Api.Stats {
    const c = this.counters
    return {
      name: this.config.name,
      maxOpen: this.config.maxOpen,
      open: this.idle.length + this.inUse,
      inUse: this.inUse,
      idle: this.idle.length,
      waiting: this.waiters.length,
      constructing: this.constructing,
      closing: this.closing,
      closed: this.closed,
      waitCount: c.waitCount,
      waitDuration: Duration.millis(c.waitMillis),
      acquireCount: c.acquireCount,
      acquireDuration: Duration.millis(c.acquireMillis),
      canceledAcquireCount: c.canceledAcquireCount,
      timeoutCount: c.timeoutCount,
      newCount: c.newCount,
      createErrorCount: c.createErrorCount,
      leakWarnings: c.leakWarnings,
      closedMaxIdle: c.closed.maxIdle,
      closedMaxIdleTime: c.closed.maxIdleTime,
      closedMaxLifetime: c.closed.maxLifetime,
      closedHealthCheck: c.closed.healthCheck,
      closedBroken: c.closed.broken,
      closedPoolClose: c.closed.poolClose
    }
  }

  flushMetrics(): void {
    if (this.options.metrics === false) return
    const tags = this.tags
    Metrics.maxOpenConnections.unsafeUpdate(this.config.maxOpen, tags)
    Metrics.openConnections.unsafeUpdate(this.idle.length + this.inUse, tags)
    Metrics.inUse.unsafeUpdate(this.inUse, tags)
    Metrics.idle.unsafeUpdate(this.idle.length, tags)
    Metrics.waiting.unsafeUpdate(this.waiters.length, tags)
    Metrics.constructing.unsafeUpdate(this.constructing, tags)
    const c = this.counters
    const f = this.flushed
    const add = (metric: typeof Metrics.waitCount, now: number, before: number, extra = tags) => {
      if (now !== before) metric.unsafeUpdate(now - before, extra)
    }
    add(Metrics.waitCount, c.waitCount, f.waitCount)
    add(Metrics.waitSeconds, c.waitMillis / 1000, f.waitMillis / 1000)
    add(Metrics.acquireCount, c.acquireCount, f.acquireCount)
    add(Metrics.acquireSeconds, c.acquireMillis / 1000, f.acquireMillis / 1000)
    add(Metrics.canceledAcquireCount, c.canceledAcquireCount, f.canceledAcquireCount)
    add(Metrics.timeoutCount, c.timeoutCount, f.timeoutCount)
    add(Metrics.newCount, c.newCount, f.newCount)
    add(Metrics.createErrorCount, c.createErrorCount, f.createErrorCount)
    add(Metrics.leakWarnings, c.leakWarnings, f.leakWarnings)
    add(Metrics.maxIdleClosed, c.closed.maxIdle, f.closed.maxIdle)
    add(Metrics.maxIdleTimeClosed, c.closed.maxIdleTime, f.closed.maxIdleTime)
    add(Metrics.maxLifetimeClosed, c.closed.maxLifetime, f.closed.maxLifetime)
    for (const reason of Object.keys(reasonLabel) as Array<CloseReason>) {
      add(Metrics.closedCount, c.closed[reason], f.closed[reason], this.reasonTags[reason])
    }
    this.flushed = { ...c, closed: { ...c.closed } }
  }
}

/**
 * Runs `effect` with a time bound, in any interruptibility: the effect and a timer run as
 * separate interruptible fibers and the first to finish wins; the loser is interrupted in
 * the background and never awaited. (`Effect.timeout` would wait for the loser's
 * interruption, which never comes inside a finalizer or an uninterruptible close.) A
 * failure or defect of `effect` yields `fallback` too.
 */
const bounded = <X, Y>(effect: Effect.Effect<X, unknown>, millis: number, fallback: Y): Effect.Effect<X | Y> =>
  Effect.flatMap(
    Effect.zip(
      Effect.forkDaemon(Effect.interruptible(effect)),
      Effect.forkDaemon(Effect.interruptible(Effect.sleep(millis)))
    ),
    ([work, timer]) =>
      Effect.async<X | Y>((resume) => {
        let done = false
        work.addObserver((exit) => {
          if (done) return
          done = true
          timer.unsafeInterruptAsFork(FiberId.none)
          resume(Exit.isSuccess(exit) ? Effect.succeed(exit.value) : Effect.succeed(fallback))
        })
        timer.addObserver(() => {
          if (done) return
          done = true
          work.unsafeInterruptAsFork(FiberId.none)
          resume(Effect.succeed(fallback))
        })
      })
  )

const formatSite = (site: LeaseSite | undefined): string => {
  if (site === undefined) return "  (unknown)"
  const span = site.span === undefined ? "" : `  in span "${site.span}"\n`
  const stack = site.stack.stack ?? ""
  // drop the "Error: ..." line and the pool's own frames
  return span + stack.split("\n").slice(1).filter((line) => !line.includes("/pool/src/")).slice(0, 12).join("\n")
}

/** @internal */
export const toImpl = <A, E>(self: Api.Pool<A, E>): PoolImpl<A, E, unknown> =>
  self as unknown as PoolImpl<A, E, unknown>
