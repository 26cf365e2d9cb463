import { Pool, PoolError, PoolMetrics } from "@berth/pool"
import { assert, describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Duration, Effect, Exit, Fiber, FiberId, Metric, Option, Schedule, Scope } from "effect"
import { advance, CreateError, type FakeResource, makeFactory, settle } from "./fake.js"

/** Holds a lease until `release` is completed; returns the resource through `leased`. */
const hold = <A, E>(pool: Pool.Pool<A, E>) =>
  Effect.gen(function*() {
    const leased = yield* Deferred.make<A>()
    const release = yield* Deferred.make<void>()
    const fiber = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
      const resource = yield* Pool.get(pool)
      yield* Deferred.succeed(leased, resource)
      yield* Deferred.await(release)
      return resource
    })))
    return { leased, release, fiber }
  })

describe("Pool.make: configuration", () => {
  it.scoped("lists every invalid field instead of clamping", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const error = yield* Effect.flip(Pool.make({
        acquire: factory.acquire,
        maxOpen: 2,
        maxIdle: 3,
        minIdle: -1,
        maxLifetime: Number.NaN,
        maxIdleTime: -5,
        acquireTimeout: 0,
        healthCheckInterval: "soon" as Duration.DurationInput,
        validateAfterIdle: "1 second",
        closeTimeout: [Number.NaN, 0]
      }))
      assert.instanceOf(error, PoolError.PoolConfigError)
      expect(error.issues.map((issue) => issue.field).sort()).toEqual([
        "acquireTimeout",
        "closeTimeout",
        "healthCheckInterval",
        "maxIdle",
        "maxIdleTime",
        "maxLifetime",
        "minIdle",
        "validateAfterIdle"
      ])
      expect(error.message).toContain("maxIdle: must be <= maxOpen (2)")
      expect(factory.attempts).toBe(0)
    }))

  it.scoped("rejects maxOpen < 1, fractional sizes, minIdle > maxIdle and jitter >= lifetime", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const fields = (options: Partial<Pool.Options<FakeResource, CreateError, never>>) =>
        Effect.flip(Pool.make({ acquire: factory.acquire, maxOpen: 4, ...options })).pipe(
          Effect.map((error) => error.issues.map((issue) => issue.field))
        )
      expect(yield* fields({ maxOpen: 0 })).toEqual(["maxOpen"])
      expect(yield* fields({ maxOpen: 2.5 })).toEqual(["maxOpen"])
      expect(yield* fields({ maxIdle: 2, minIdle: 3 })).toEqual(["minIdle"])
      expect(yield* fields({ maxLifetime: "1 minute", maxLifetimeJitter: "1 minute" })).toEqual(["maxLifetimeJitter"])
      expect(yield* fields({ maxLifetimeJitter: "1 minute" })).toEqual(["maxLifetimeJitter"])
      expect(yield* fields({ name: "" })).toEqual(["name"])
      expect(yield* fields({ leakDetectionThreshold: 0 })).toEqual(["leakDetectionThreshold"])
    }))

  it.scoped("accepts infinite lifetimes and a zero closeTimeout", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const pool = yield* Pool.make({
        acquire: factory.acquire,
        maxOpen: 1,
        maxLifetime: Duration.infinity,
        closeTimeout: 0
      })
      expect((yield* Pool.stats(pool)).maxOpen).toBe(1)
    }))
})

describe("Pool.get", () => {
  it.scoped("creates lazily, reuses the most recently returned resource, and counts", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const pool = yield* Pool.make({ acquire: factory.acquire, maxOpen: 3 })
      expect(factory.attempts).toBe(0)
      const [a, b] = yield* Effect.scoped(Effect.all([Pool.get(pool), Pool.get(pool)]))
      expect([a.id, b.id]).toEqual([0, 1])
      // b was returned last (scope finalizers run in reverse), so it comes out first
      const again = yield* Effect.scoped(Pool.get(pool))
      expect(again).toBe(a)
      const stats = yield* Pool.stats(pool)
      expect(stats).toMatchObject({ open: 2, idle: 2, inUse: 0, newCount: 2, acquireCount: 3, waiting: 0 })
      expect(factory.created.every((r) => r.destroyed === 0)).toBe(true)
    }))

  it.scoped("never opens more than maxOpen; waiters are served FIFO by direct hand-off", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const pool = yield* Pool.make({ acquire: factory.acquire, maxOpen: 1 })
      const first = yield* hold(pool)
      const resource = yield* Deferred.await(first.leased)
      const order: Array<string> = []
      const waiter = (name: string) =>
        Effect.fork(Effect.scoped(Effect.gen(function*() {
          const r = yield* Pool.get(pool)
          order.push(name)
          return r
        })))
      const b = yield* waiter("b")
      yield* settle
      const c = yield* waiter("c")
      yield* settle
      expect((yield* Pool.stats(pool)).waiting).toBe(2)
      yield* Deferred.succeed(first.release, undefined)
      expect(yield* Fiber.join(b)).toBe(resource)
      expect(yield* Fiber.join(c)).toBe(resource)
      expect(order).toEqual(["b", "c"])
      expect(factory.created.length).toBe(1)
      const stats = yield* Pool.stats(pool)
      expect(stats).toMatchObject({ waitCount: 2, waiting: 0, inUse: 0, idle: 1, acquireCount: 3 })
    }))

  it.scoped("a released resource goes to the oldest waiter even if a newer caller arrives first", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const pool = yield* Pool.make({ acquire: factory.acquire, maxOpen: 1 })
      const first = yield* hold(pool)
      yield* Deferred.await(first.leased)
      const waiting = yield* hold(pool)
      yield* settle
      yield* Deferred.succeed(first.release, undefined)
      yield* Fiber.join(first.fiber)
      // the resource is already the waiter's: a new caller cannot take it from the idle list
      expect((yield* Pool.stats(pool)).idle).toBe(0)
      yield* Deferred.await(waiting.leased)
      yield* Deferred.succeed(waiting.release, undefined)
      yield* Fiber.join(waiting.fiber)
    }))

  it.scoped("acquireTimeout fails with PoolTimeout carrying the wait and the pool's state", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const pool = yield* Pool.make({ acquire: factory.acquire, maxOpen: 1, acquireTimeout: "2 seconds" })
      const first = yield* hold(pool)
      yield* Deferred.await(first.leased)
      const waiter = yield* Effect.fork(Effect.scoped(Pool.get(pool)))
      yield* settle
      yield* advance("1999 millis")
      expect(yield* waiter.poll).toEqual(Option.none())
      yield* advance("1 millis")
      const failure = yield* Effect.flip(Fiber.join(waiter))
      assert.instanceOf(failure, PoolError.PoolTimeout)
      expect(Duration.toMillis(failure.waited)).toBe(2000)
      expect(failure.stats).toMatchObject({ inUse: 1, maxOpen: 1, waiting: 1 })
      const stats = yield* Pool.stats(pool)
      expect(stats).toMatchObject({ timeoutCount: 1, waiting: 0, waitCount: 1 })
      expect(Duration.toMillis(stats.waitDuration)).toBe(2000)
      // the pool still works
      yield* Deferred.succeed(first.release, undefined)
      yield* Fiber.join(first.fiber)
      yield* Effect.scoped(Pool.get(pool))
    }))

  it.scoped("an interrupted waiter leaves the queue, is counted as canceled and leaks nothing", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const pool = yield* Pool.make({ acquire: factory.acquire, maxOpen: 1 })
      const first = yield* hold(pool)
      yield* Deferred.await(first.leased)
      const waiter = yield* Effect.fork(Effect.scoped(Pool.get(pool)))
      yield* settle
      yield* Fiber.interrupt(waiter)
      expect(yield* Pool.stats(pool)).toMatchObject({ waiting: 0, canceledAcquireCount: 1, inUse: 1 })
      yield* Deferred.succeed(first.release, undefined)
      yield* Fiber.join(first.fiber)
      expect(yield* Pool.stats(pool)).toMatchObject({ idle: 1, inUse: 0, open: 1 })
    }))

  it.scoped("a waiter interrupted just as a resource is handed to it gives the resource back", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const pool = yield* Pool.make({ acquire: factory.acquire, maxOpen: 1 })
      const holder = yield* Scope.make()
      const resource = yield* Pool.get(pool).pipe(Scope.extend(holder))
      const waiter = yield* Effect.fork(Effect.scoped(Pool.get(pool)))
      yield* settle
      // the interrupt is queued to the waiter before the hand-off, and processed first
      yield* Effect.sync(() => waiter.unsafeInterruptAsFork(FiberId.none))
      yield* Scope.close(holder, Exit.void)
      expect(Exit.isInterrupted(yield* Fiber.await(waiter))).toBe(true)
      expect(yield* Pool.stats(pool)).toMatchObject({ inUse: 0, idle: 1, waiting: 0, canceledAcquireCount: 1 })
      expect(yield* Effect.scoped(Pool.get(pool))).toBe(resource)
    }))

  it.scoped("a waiter interrupted while its resource is being created leaves it to the pool", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      factory.setDelay("1 second")
      const pool = yield* Pool.make({ acquire: factory.acquire, maxOpen: 2 })
      const waiter = yield* Effect.fork(Effect.scoped(Pool.get(pool)))
      yield* settle
      expect(yield* Pool.stats(pool)).toMatchObject({ constructing: 1, waiting: 1 })
      yield* Fiber.interrupt(waiter)
      yield* advance("1 second")
      expect(yield* Pool.stats(pool)).toMatchObject({ constructing: 0, idle: 1, canceledAcquireCount: 1 })
      expect(factory.live()).toBe(1)
    }))

  it.scoped("a failed creation fails that caller with the typed error and frees the slot", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const pool = yield* Pool.make({ acquire: factory.acquire, maxOpen: 1 })
      factory.failNext(1)
      const error = yield* Effect.flip(Effect.scoped(Pool.get(pool)))
      assert.instanceOf(error, CreateError)
      expect(yield* Pool.stats(pool)).toMatchObject({ constructing: 0, open: 0, createErrorCount: 1 })
      const resource = yield* Effect.scoped(Pool.get(pool))
      expect(resource.id).toBe(0)
    }))

  it.scoped("createRetry retries a failed creation under a Schedule", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const pool = yield* Pool.make({
        acquire: factory.acquire,
        maxOpen: 2,
        createRetry: Schedule.spaced("100 millis").pipe(Schedule.intersect(Schedule.recurs(3)))
      })
      factory.failNext(2)
      const fiber = yield* Effect.fork(Effect.scoped(Pool.get(pool)))
      yield* settle
      yield* advance("100 millis")
      yield* advance("100 millis")
      const resource = yield* Fiber.join(fiber)
      expect(factory.attempts).toBe(3)
      expect(resource.id).toBe(0)
      expect((yield* Pool.stats(pool)).createErrorCount).toBe(0)
      // retries exhausted: the caller gets the last error
      factory.failNext(10)
      const failing = yield* Effect.fork(Effect.scoped(Effect.zip(Pool.get(pool), Pool.get(pool))))
      yield* settle
      for (let i = 0; i < 3; i++) yield* advance("100 millis")
      expect(yield* Effect.flip(Fiber.join(failing))).toEqual(new CreateError({ attempt: 7 }))
      expect((yield* Pool.stats(pool)).createErrorCount).toBe(1)
    }))

  it.scoped("isUsable is checked on every hand-out: an unusable idle resource is destroyed and replaced", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const pool = yield* Pool.make({ acquire: factory.acquire, maxOpen: 2, isUsable: (r) => r.usable })
      const first = yield* Effect.scoped(Pool.get(pool))
      first.usable = false
      const second = yield* Effect.scoped(Pool.get(pool))
      expect(second).not.toBe(first)
      yield* settle
      expect(first.destroyed).toBe(1)
      expect((yield* Pool.stats(pool)).closedBroken).toBe(1)
    }))
})

describe("release policy", () => {
  it.scoped("invalidate destroys the resource when its lease ends", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const pool = yield* Pool.make({ acquire: factory.acquire, maxOpen: 2 })
      const resource = yield* Effect.scoped(Effect.tap(Pool.get(pool), (r) => Pool.invalidate(pool, r)))
      yield* settle
      expect(resource.destroyed).toBe(1)
      expect(yield* Pool.stats(pool)).toMatchObject({ open: 0, closedBroken: 1 })
    }))

  it.scoped("onRelease sees how the lease ended and decides reuse or destroy", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const exits: Array<string> = []
      const pool = yield* Pool.make({
        acquire: factory.acquire,
        maxOpen: 2,
        onRelease: (_, exit) => {
          exits.push(exit._tag)
          return Effect.succeed(Exit.isSuccess(exit) ? "reuse" : "destroy")
        }
      })
      const ok = yield* Effect.scoped(Pool.get(pool))
      yield* Effect.scoped(Effect.zipRight(Pool.get(pool), Effect.fail("boom"))).pipe(Effect.ignore)
      yield* settle
      expect(exits).toEqual(["Success", "Failure"])
      expect(ok.destroyed).toBe(1)
      expect(yield* Pool.stats(pool)).toMatchObject({ closedBroken: 1, open: 0 })
    }))

  it.scoped("a hanging or failing onRelease is bounded and means destroy", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      let mode: "hang" | "fail" = "hang"
      const pool = yield* Pool.make({
        acquire: factory.acquire,
        maxOpen: 2,
        releaseTimeout: "1 second",
        onRelease: () => mode === "hang" ? Effect.never : Effect.die("hook bug")
      })
      const lease = yield* Effect.fork(Effect.scoped(Pool.get(pool)))
      yield* settle
      expect(yield* lease.poll).toEqual(Option.none())
      yield* advance("1 second")
      const first = yield* Fiber.join(lease)
      mode = "fail"
      yield* Effect.scoped(Pool.get(pool))
      yield* settle
      expect(first.destroyed).toBe(1)
      expect(factory.created.map((r) => r.destroyed)).toEqual([1, 1])
      expect(yield* Pool.stats(pool)).toMatchObject({ closedBroken: 2, open: 0 })
    }))

  it.scoped("maxIdle: releases beyond the idle cap close the resource", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const pool = yield* Pool.make({ acquire: factory.acquire, maxOpen: 3, maxIdle: 1 })
      yield* Effect.scoped(Effect.all([Pool.get(pool), Pool.get(pool), Pool.get(pool)]))
      yield* settle
      expect(yield* Pool.stats(pool)).toMatchObject({ idle: 1, open: 1, closedMaxIdle: 2 })
      expect(factory.live()).toBe(1)
    }))

  it.scoped("onCreate runs once per resource, onAcquire on every hand-out; a failing onAcquire fails that get", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const created: Array<number> = []
      const acquired: Array<number> = []
      let failAcquire = false
      const pool = yield* Pool.make({
        acquire: factory.acquire,
        maxOpen: 2,
        onCreate: (r) => Effect.sync(() => created.push(r.id)),
        onAcquire: (r) =>
          failAcquire ? Effect.fail(new CreateError({ attempt: -1 })) : Effect.sync(() => acquired.push(r.id))
      })
      yield* Effect.scoped(Pool.get(pool))
      yield* Effect.scoped(Pool.get(pool))
      expect(created).toEqual([0])
      expect(acquired).toEqual([0, 0])
      failAcquire = true
      const error = yield* Effect.flip(Effect.scoped(Pool.get(pool)))
      expect(error).toEqual(new CreateError({ attempt: -1 }))
      yield* settle
      expect(factory.created[0]!.destroyed).toBe(1)
      expect(yield* Pool.stats(pool)).toMatchObject({ closedBroken: 1, inUse: 0, open: 0, acquireCount: 2 })
    }))
})

describe("lifetimes", () => {
  it.scoped("maxLifetime: an expired resource is destroyed on release and never handed out", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const pool = yield* Pool.make({ acquire: factory.acquire, maxOpen: 2, maxLifetime: "10 minutes" })
      // leased across its expiry: destroyed on release
      const lease = yield* hold(pool)
      const held = yield* Deferred.await(lease.leased)
      yield* advance("10 minutes")
      expect(held.destroyed).toBe(0)
      yield* Deferred.succeed(lease.release, undefined)
      yield* Fiber.join(lease.fiber)
      yield* settle
      expect(held.destroyed).toBe(1)
      // idle across its expiry: never handed out
      const idle = yield* Effect.scoped(Pool.get(pool))
      expect(idle).not.toBe(held)
      yield* TestClock_set(pool, "10 minutes")
      const fresh = yield* Effect.scoped(Pool.get(pool))
      expect(fresh).not.toBe(idle)
      yield* settle
      expect(idle.destroyed).toBe(1)
      expect((yield* Pool.stats(pool)).closedMaxLifetime).toBe(2)
    }))

  it.scoped("maxLifetimeJitter: every resource expires within [lifetime - jitter, lifetime]", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const n = 30
      const pool = yield* Pool.make({
        acquire: factory.acquire,
        maxOpen: n,
        maxLifetime: "10 minutes",
        maxLifetimeJitter: "2 minutes",
        healthCheckInterval: "1 hour"
      })
      yield* Effect.scoped(Effect.all(Array.from({ length: n }, () => Pool.get(pool)), { concurrency: "unbounded" }))
      expect(factory.created.length).toBe(n)
      // the maintenance tick runs every (lifetime - jitter) = 8 minutes; at 8 minutes nothing
      // can have expired yet, since every jitter is < 2 minutes
      yield* advance("8 minutes")
      expect((yield* Pool.stats(pool)).closedMaxLifetime).toBe(0)
      // at 9 minutes, the resources whose jitter exceeded 1 minute (about half of them) are
      // past their lifetime: they are destroyed instead of handed out
      yield* advance("1 minute")
      yield* Effect.scoped(Effect.all(Array.from({ length: n }, () => Pool.get(pool)), { concurrency: "unbounded" }))
      const expiredAtNine = (yield* Pool.stats(pool)).closedMaxLifetime
      expect(expiredAtNine).toBeGreaterThan(0) // P(no jitter > 1 min) = 2^-30
      expect(expiredAtNine).toBeLessThan(n) // P(every jitter > 1 min) = 2^-30
      expect(factory.created.slice(0, n).filter((r) => r.destroyed === 1).length).toBe(expiredAtNine)
      // at 10 minutes every one of the first n is gone: the upper bound holds
      yield* advance("1 minute")
      yield* Effect.scoped(Effect.all(Array.from({ length: n }, () => Pool.get(pool)), { concurrency: "unbounded" }))
      expect(factory.created.slice(0, n).every((r) => r.destroyed === 1)).toBe(true)
    }))

  it.scoped("maxIdleTime: idle resources are closed by the background check", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const pool = yield* Pool.make({ acquire: factory.acquire, maxOpen: 2, maxIdleTime: "1 minute" })
      yield* Effect.scoped(Effect.all([Pool.get(pool), Pool.get(pool)]))
      yield* advance("59 seconds")
      expect((yield* Pool.stats(pool)).idle).toBe(2)
      yield* advance("1 minute")
      expect(yield* Pool.stats(pool)).toMatchObject({ idle: 0, open: 0, closedMaxIdleTime: 2 })
      expect(factory.live()).toBe(0)
    }))

  it.scoped("minIdle is kept warm in the background", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const pool = yield* Pool.make({
        acquire: factory.acquire,
        maxOpen: 5,
        minIdle: 2,
        maxIdleTime: "1 minute",
        healthCheckInterval: "10 seconds"
      })
      yield* settle
      expect(yield* Pool.stats(pool)).toMatchObject({ idle: 2, newCount: 2 })
      // taking one makes the pool create a replacement
      const lease = yield* hold(pool)
      yield* Deferred.await(lease.leased)
      yield* settle
      expect(yield* Pool.stats(pool)).toMatchObject({ idle: 2, inUse: 1, newCount: 3 })
      yield* Deferred.succeed(lease.release, undefined)
      yield* Fiber.join(lease.fiber)
      expect((yield* Pool.stats(pool)).idle).toBe(3)
      // idle ones expire, the pool refills to minIdle
      yield* advance("70 seconds")
      const stats = yield* Pool.stats(pool)
      expect(stats.idle).toBe(2)
      expect(stats.closedMaxIdleTime).toBe(3)
      expect(factory.live()).toBe(2)
    }))
})

describe("health checks", () => {
  it.scoped("the background health check destroys idle resources that fail validation", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const validated: Array<number> = []
      const pool = yield* Pool.make({
        acquire: factory.acquire,
        maxOpen: 3,
        healthCheckInterval: "30 seconds",
        validate: (r) => Effect.sync(() => (validated.push(r.id), r.usable))
      })
      const [a, b] = yield* Effect.scoped(Effect.all([Pool.get(pool), Pool.get(pool)]))
      a.usable = false
      yield* advance("30 seconds")
      expect(validated.sort()).toEqual([0, 1])
      expect(a.destroyed).toBe(1)
      expect(b.destroyed).toBe(0)
      expect(yield* Pool.stats(pool)).toMatchObject({ idle: 1, inUse: 0, closedHealthCheck: 1 })
    }))

  it.scoped("validate runs on hand-out only after the resource sat idle longer than validateAfterIdle", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      let validations = 0
      const pool = yield* Pool.make({
        acquire: factory.acquire,
        maxOpen: 2,
        validateAfterIdle: "1 second",
        healthCheckInterval: "1 hour",
        validate: (r) => Effect.sync(() => (validations++, r.usable))
      })
      const first = yield* Effect.scoped(Pool.get(pool))
      yield* Effect.scoped(Pool.get(pool))
      expect(validations).toBe(0)
      yield* advance("1001 millis")
      yield* Effect.scoped(Pool.get(pool))
      expect(validations).toBe(1)
      // a resource that fails validation is destroyed and the caller gets another one
      first.usable = false
      yield* advance("2 seconds")
      const second = yield* Effect.scoped(Pool.get(pool))
      expect(second).not.toBe(first)
      yield* settle
      expect(first.destroyed).toBe(1)
      expect((yield* Pool.stats(pool)).closedHealthCheck).toBe(1)
    }))

  it.scoped("a validation that hangs counts as failed after validateTimeout", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const pool = yield* Pool.make({
        acquire: factory.acquire,
        maxOpen: 2,
        validateAfterIdle: 0,
        validateTimeout: "1 second",
        healthCheckInterval: "1 hour",
        validate: (r) => r.id === 0 ? Effect.never : Effect.succeed(true)
      })
      yield* Effect.scoped(Pool.get(pool))
      yield* advance("1 millis")
      const fiber = yield* Effect.fork(Effect.scoped(Pool.get(pool)))
      yield* advance("1 second")
      expect((yield* Fiber.join(fiber)).id).toBe(1)
      expect((yield* Pool.stats(pool)).closedHealthCheck).toBe(1)
    }))
})

describe("leak detection", () => {
  it.scoped("a lease held past the threshold logs a warning with where it was acquired", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const logs: Array<string> = []
      const pool = yield* Pool.make({
        acquire: factory.acquire,
        maxOpen: 1,
        leakDetectionThreshold: "5 seconds"
      }).pipe(Effect.provide(captureLogs(logs)))
      const lease = yield* hold(pool).pipe(Effect.withSpan("checkout-report"))
      yield* Deferred.await(lease.leased)
      yield* advance("4 seconds")
      expect(logs).toEqual([])
      yield* advance("1 second")
      expect(logs.length).toBe(1)
      expect(logs[0]).toContain("held for more than 5s")
      expect(logs[0]).toContain("Pool.test.ts")
      expect(logs[0]).toContain(`in span "checkout-report"`)
      expect((yield* Pool.stats(pool)).leakWarnings).toBe(1)
      // a lease returned in time logs nothing
      yield* Deferred.succeed(lease.release, undefined)
      yield* Fiber.join(lease.fiber)
      yield* Effect.scoped(Pool.get(pool))
      yield* advance("1 minute")
      expect(logs.length).toBe(1)
    }))
})

describe("close", () => {
  it.scoped("fails new and queued gets with PoolClosed, lets leases finish, destroys everything once", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const scope = yield* Scope.make()
      const pool = yield* Pool.make({ acquire: factory.acquire, maxOpen: 2, closeTimeout: "10 seconds" }).pipe(
        Scope.extend(scope)
      )
      yield* Effect.scoped(Pool.get(pool))
      const lease = yield* hold(pool)
      const leased = yield* Deferred.await(lease.leased)
      const lease2 = yield* hold(pool)
      yield* Deferred.await(lease2.leased)
      const queued = yield* Effect.fork(Effect.scoped(Pool.get(pool)))
      yield* settle
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* settle
      expect(yield* Effect.flip(Fiber.join(queued))).toEqual(new PoolError.PoolClosed({ pool: "default" }))
      expect(yield* Effect.flip(Effect.scoped(Pool.get(pool)))).toBeInstanceOf(PoolError.PoolClosed)
      expect(yield* closing.poll).toEqual(Option.none())
      expect(leased.destroyed).toBe(0)
      yield* Deferred.succeed(lease.release, undefined)
      yield* Fiber.join(lease.fiber)
      yield* settle
      expect(leased.destroyed).toBe(1)
      // the second lease outlives closeTimeout: it is destroyed under its holder
      yield* advance("10 seconds")
      yield* Fiber.join(closing)
      expect(factory.created.map((r) => r.destroyed)).toEqual([1, 1])
      yield* Deferred.succeed(lease2.release, undefined)
      yield* Fiber.join(lease2.fiber)
      expect(factory.created.map((r) => r.destroyed)).toEqual([1, 1])
      const stats = yield* Pool.stats(pool)
      expect(stats).toMatchObject({ open: 0, inUse: 0, closing: 0, closed: true, closedPoolClose: 2 })
      yield* Pool.close(pool)
    }))
})

describe("Pool.use", () => {
  it.scoped("leases for the duration of the function and returns the resource however it ends", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const pool = yield* Pool.make({ acquire: factory.acquire, maxOpen: 1 })
      expect(yield* Pool.use(pool, (r) => Effect.succeed(r.id))).toBe(0)
      expect(yield* Effect.flip(pool.pipe(Pool.use(() => Effect.fail("boom" as const))))).toBe("boom")
      const blocked = yield* Effect.fork(Pool.use(pool, () => Effect.never))
      yield* settle
      expect((yield* Pool.stats(pool)).inUse).toBe(1)
      yield* Fiber.interrupt(blocked)
      expect(yield* Pool.stats(pool)).toMatchObject({ inUse: 0, idle: 1, newCount: 1, acquireCount: 3 })
    }))
})

describe("metrics", () => {
  it.scoped("PoolMetrics mirror the stats with a pool label", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const pool = yield* Pool.make({ acquire: factory.acquire, maxOpen: 3, maxIdle: 1, name: "metrics-test" })
      yield* Effect.scoped(Effect.all([Pool.get(pool), Pool.get(pool)]))
      const lease = yield* hold(pool)
      yield* Deferred.await(lease.leased)
      yield* settle
      yield* PoolMetrics.refresh(pool)
      const value = <T>(metric: Metric.Metric<T, number, { readonly value?: number; readonly count?: number }>) =>
        Effect.map(Metric.value(metric.pipe(Metric.tagged("pool", "metrics-test"))), (s) => s.value ?? s.count)
      expect(yield* value(PoolMetrics.inUse)).toBe(1)
      expect(yield* value(PoolMetrics.idle)).toBe(0)
      expect(yield* value(PoolMetrics.openConnections)).toBe(1)
      expect(yield* value(PoolMetrics.maxOpenConnections)).toBe(3)
      expect(yield* value(PoolMetrics.newCount)).toBe(2)
      expect(yield* value(PoolMetrics.acquireCount)).toBe(3)
      expect(yield* value(PoolMetrics.maxIdleClosed)).toBe(1)
      const byReason = yield* Metric.value(
        PoolMetrics.closedCount.pipe(Metric.tagged("pool", "metrics-test"), Metric.tagged("reason", "max_idle"))
      )
      expect(byReason.count).toBe(1)
      // refreshing twice does not double-count
      yield* PoolMetrics.refresh(pool)
      expect(yield* value(PoolMetrics.newCount)).toBe(2)
      yield* Deferred.succeed(lease.release, undefined)
      yield* Fiber.join(lease.fiber)
    }))
})

describe("close races", () => {
  it.scoped("a caller validating when close force-destroys its resource gets PoolClosed, not a dead resource", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      const scope = yield* Scope.make()
      const pool = yield* Pool.make({
        acquire: factory.acquire,
        maxOpen: 1,
        closeTimeout: "1 second",
        validateAfterIdle: 0,
        validateTimeout: "1 minute",
        healthCheckInterval: "1 hour",
        validate: () => Effect.as(Effect.sleep("10 seconds"), true)
      }).pipe(Scope.extend(scope))
      yield* Effect.scoped(Pool.get(pool))
      yield* advance("1 millis")
      const getter = yield* Effect.fork(Effect.scoped(Pool.get(pool)))
      yield* settle
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* settle
      yield* advance("1 second")
      yield* Fiber.join(closing)
      expect(factory.created.map((r) => r.destroyed)).toEqual([1])
      yield* advance("10 seconds")
      expect(yield* Effect.flip(Fiber.join(getter))).toBeInstanceOf(PoolError.PoolClosed)
      expect(yield* Pool.stats(pool)).toMatchObject({ inUse: 0, open: 0, closedPoolClose: 1 })
    }))
})

describe("layer", () => {
  it.effect("provides a pool under a user tag and closes it with the layer", () =>
    Effect.gen(function*() {
      const factory = makeFactory()
      class Resources extends Context.Tag("test/Resources")<Resources, Pool.Pool<FakeResource, CreateError>>() {}
      const id = yield* Effect.flatMap(Resources, (pool) => Pool.use(pool, (r) => Effect.succeed(r.id))).pipe(
        Effect.provide(Pool.layer(Resources, { acquire: factory.acquire, maxOpen: 1 }))
      )
      expect(id).toBe(0)
      expect(factory.created[0]!.destroyed).toBe(1)
    }))
})

// helpers ---------------------------------------------------------------------------------

import { Logger, TestClock } from "effect"

const captureLogs = (sink: Array<string>) =>
  Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ message }) => {
      sink.push(Array.isArray(message) ? message.join(" ") : String(message))
    })
  )

/** Moves the clock forward by `duration` (keeping the pool idle meanwhile). */
const TestClock_set = <A, E>(_pool: Pool.Pool<A, E>, duration: Duration.DurationInput) =>
  Effect.zipRight(TestClock.adjust(duration), settle)
