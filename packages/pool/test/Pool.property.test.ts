/**
 * Property tests: random configurations driven by random programs of get / release (ok,
 * failed, invalidated, made unusable) / interrupt / creation failures / time passing, with
 * the pool's invariants checked after every step against a model kept by the test, and a
 * final close after which every resource must have been destroyed exactly once.
 */
import { Pool, PoolError } from "@berth/pool"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Logger, LogLevel, Scope, TestClock, TestContext } from "effect"
import * as fc from "effect/FastCheck"
import { CreateError, type FakeResource, makeFactory, settle } from "./fake.js"

interface Config {
  readonly maxOpen: number
  readonly maxIdle: number
  readonly minIdle: number
  readonly maxLifetime: number | undefined
  readonly jitter: number
  readonly maxIdleTime: number | undefined
  readonly acquireTimeout: number | undefined
  readonly healthCheckInterval: number
  readonly createDelay: number
  readonly useIsUsable: boolean
  readonly useOnRelease: boolean
  readonly closeTimeout: number
}

type Command =
  | { readonly _tag: "Get" }
  | { readonly _tag: "Release"; readonly pick: number; readonly mode: "ok" | "fail" | "invalidate" | "unusable" }
  | { readonly _tag: "Interrupt"; readonly pick: number }
  | { readonly _tag: "Tick"; readonly millis: number }
  | { readonly _tag: "FailCreates"; readonly count: number }

const configArb: fc.Arbitrary<Config> = fc
  .record({
    maxOpen: fc.integer({ min: 1, max: 4 }),
    idleShare: fc.double({ min: 0, max: 1, noNaN: true }),
    minShare: fc.double({ min: 0, max: 1, noNaN: true }),
    maxLifetime: fc.option(fc.integer({ min: 50, max: 3000 }), { nil: undefined }),
    jitterShare: fc.double({ min: 0, max: 0.9, noNaN: true }),
    maxIdleTime: fc.option(fc.integer({ min: 50, max: 3000 }), { nil: undefined }),
    acquireTimeout: fc.option(fc.integer({ min: 10, max: 2000 }), { nil: undefined }),
    healthCheckInterval: fc.integer({ min: 20, max: 2000 }),
    createDelay: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 300 })),
    useIsUsable: fc.boolean(),
    useOnRelease: fc.boolean(),
    closeTimeout: fc.integer({ min: 0, max: 1000 })
  })
  .map((r) => {
    const maxIdle = Math.round(r.idleShare * r.maxOpen)
    return {
      maxOpen: r.maxOpen,
      maxIdle,
      minIdle: Math.round(r.minShare * maxIdle),
      maxLifetime: r.maxLifetime,
      jitter: r.maxLifetime === undefined ? 0 : Math.floor(r.jitterShare * r.maxLifetime),
      maxIdleTime: r.maxIdleTime,
      acquireTimeout: r.acquireTimeout,
      healthCheckInterval: r.healthCheckInterval,
      createDelay: r.createDelay,
      useIsUsable: r.useIsUsable,
      useOnRelease: r.useOnRelease,
      closeTimeout: r.closeTimeout
    }
  })

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 5, arbitrary: fc.constant<Command>({ _tag: "Get" }) },
  {
    weight: 4,
    arbitrary: fc.record({
      _tag: fc.constant("Release" as const),
      pick: fc.nat(),
      mode: fc.constantFrom("ok" as const, "fail" as const, "invalidate" as const, "unusable" as const)
    })
  },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("Interrupt" as const), pick: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({ _tag: fc.constant("Tick" as const), millis: fc.integer({ min: 1, max: 1500 }) })
  },
  {
    weight: 1,
    arbitrary: fc.record({ _tag: fc.constant("FailCreates" as const), count: fc.integer({ min: 1, max: 3 }) })
  }
)

interface Holder {
  state: "pending" | "holding" | "done"
  resource: FakeResource | undefined
  release: Deferred.Deferred<"ok" | "fail" | "invalidate" | "unusable">
  fiber: Fiber.RuntimeFiber<void, unknown> | undefined
  exit: Exit.Exit<void, unknown> | undefined
  canceled: boolean
}

const run = (config: Config, commands: ReadonlyArray<Command>) =>
  Effect.gen(function*() {
    const factory = makeFactory()
    if (config.createDelay > 0) factory.setDelay(config.createDelay)
    const poolScope = yield* Scope.make()
    const pool = yield* Pool.make({
      acquire: factory.acquire,
      maxOpen: config.maxOpen,
      maxIdle: config.maxIdle,
      minIdle: config.minIdle,
      maxLifetime: config.maxLifetime,
      maxLifetimeJitter: config.maxLifetime === undefined ? undefined : config.jitter,
      maxIdleTime: config.maxIdleTime,
      acquireTimeout: config.acquireTimeout,
      healthCheckInterval: config.healthCheckInterval,
      closeTimeout: config.closeTimeout,
      isUsable: config.useIsUsable ? (r) => r.usable : undefined,
      onRelease: config.useOnRelease
        ? (_, exit) => Effect.succeed(Exit.isSuccess(exit) ? "reuse" as const : "destroy" as const)
        : undefined
    }).pipe(Scope.extend(poolScope))

    const holders: Array<Holder> = []
    const held = new Set<FakeResource>()
    const violations: Array<string> = []

    const startGet = Effect.gen(function*() {
      const holder: Holder = {
        state: "pending",
        resource: undefined,
        release: yield* Deferred.make<"ok" | "fail" | "invalidate" | "unusable">(),
        fiber: undefined,
        exit: undefined,
        canceled: false
      }
      holders.push(holder)
      const lease = Effect.gen(function*() {
        const resource = yield* Pool.get(pool)
        if (held.has(resource)) violations.push(`resource ${resource.id} leased twice`)
        if (resource.destroyed > 0) violations.push(`resource ${resource.id} handed out after destruction`)
        held.add(resource)
        holder.state = "holding"
        holder.resource = resource
        const mode = yield* Effect.onInterrupt(Deferred.await(holder.release), () =>
          Effect.sync(() => held.delete(resource)))
        held.delete(resource)
        if (mode === "invalidate") {
          yield* Pool.invalidate(pool, resource)
        }
        if (mode === "unusable") {
          resource.usable = false
        }
        if (mode === "fail") {
          yield* Effect.fail("boom")
        }
      })
      holder.fiber = yield* Effect.fork(
        Effect.scoped(lease).pipe(Effect.onExit((exit) =>
          Effect.sync(() => {
            holder.state = "done"
            holder.exit = exit
          })
        ))
      )
    })

    const check = (step: string) =>
      Effect.gen(function*() {
        const s = yield* Pool.stats(pool)
        const holding = holders.filter((h) =>
          h.state === "holding"
        ).length
        const pending = holders.filter((h) => h.state === "pending").length
        const destroyed = factory.created.filter((r) => r.destroyed > 0).length
        const failures = (tag: string) =>
          holders.filter((h) =>
            h.exit !== undefined && Exit.isFailure(h.exit) &&
            h.exit.cause._tag === "Fail" && (h.exit.cause.error as { _tag?: string })._tag === tag
          ).length
        const actual = {
          liveBound: factory.live() <= config.maxOpen,
          slots: s.open + s.constructing + s.closing <= config.maxOpen,
          openMatchesLive: s.open + s.closing === factory.live(),
          idleBound: s.idle <= config.maxIdle,
          inUse: s.inUse,
          waiting: s.waiting,
          acquireCount: s.acquireCount,
          newCount: s.newCount,
          closedTotal: s.closedMaxIdle + s.closedMaxIdleTime + s.closedMaxLifetime + s.closedHealthCheck +
            s.closedBroken + s.closedPoolClose,
          canceled: s.canceledAcquireCount,
          timeouts: s.timeoutCount,
          createErrors: failures("CreateError") <= s.createErrorCount,
          doubleDestroy: factory.created.some((r) => r.destroyed > 1),
          violations
        }
        const expected = {
          liveBound: true,
          slots: true,
          openMatchesLive: true,
          idleBound: true,
          inUse: holding,
          waiting: pending,
          acquireCount: holders.filter((h) => h.resource !== undefined).length,
          newCount: factory.created.length,
          closedTotal: destroyed,
          canceled: holders.filter((h) => h.canceled).length,
          timeouts: failures("PoolTimeout"),
          createErrors: true,
          doubleDestroy: false,
          violations: []
        }
        expect(actual, `after ${step}`).toEqual(expected)
      })

    let step = 0
    for (const command of commands) {
      step++
      switch (command._tag) {
        case "Get": {
          yield* startGet
          break
        }
        case "Release": {
          const holding = holders.filter((h) => h.state === "holding")
          const holder = holding[command.pick % Math.max(1, holding.length)]
          if (holder !== undefined) yield* Deferred.succeed(holder.release, command.mode)
          break
        }
        case "Interrupt": {
          const active = holders.filter((h) => h.state !== "done")
          const holder = active[command.pick % Math.max(1, active.length)]
          if (holder !== undefined && holder.fiber !== undefined) {
            if (holder.state === "pending") holder.canceled = true
            yield* Fiber.interrupt(holder.fiber)
          }
          break
        }
        case "Tick": {
          yield* TestClock.adjust(command.millis)
          break
        }
        case "FailCreates": {
          factory.failNext(command.count)
          break
        }
      }
      yield* settle
      yield* check(`step ${step} (${JSON.stringify(command)})`)
    }

    // close with leases still out: finishes after closeTimeout at the latest
    const closing = yield* Effect.fork(Scope.close(poolScope, Exit.void))
    yield* settle
    expect(yield* Effect.flip(Effect.scoped(Pool.get(pool)))).toBeInstanceOf(PoolError.PoolClosed)
    yield* TestClock.adjust(config.closeTimeout)
    yield* settle
    yield* Fiber.join(closing)
    for (const holder of holders) yield* Deferred.succeed(holder.release, "ok")
    yield* settle
    expect(factory.created.map((r) => r.destroyed)).toEqual(factory.created.map(() => 1))
    const s = yield* Pool.stats(pool)
    expect({ open: s.open, inUse: s.inUse, idle: s.idle, waiting: s.waiting, closing: s.closing }).toEqual({
      open: 0,
      inUse: 0,
      idle: 0,
      waiting: 0,
      closing: 0
    })
    expect(holders.every((h) => h.state === "done")).toBe(true)
    expect(violations).toEqual([])
  })

describe("Pool properties", () => {
  it("invariants hold over random programs, and close destroys every resource exactly once", async () => {
    await fc.assert(
      fc.asyncProperty(
        configArb,
        fc.array(commandArb, { minLength: 1, maxLength: 40 }),
        (config, commands) =>
          Effect.runPromise(
            run(config, commands).pipe(
              Effect.provide(TestContext.TestContext),
              Logger.withMinimumLogLevel(LogLevel.None)
            )
          )
      ),
      { numRuns: 150, endOnFailure: true }
    )
  }, 240_000)

  it("the typed creation error reaches the caller", async () => {
    await Effect.runPromise(
      Effect.gen(function*() {
        const factory = makeFactory()
        const pool = yield* Pool.make({ acquire: factory.acquire, maxOpen: 1 })
        factory.failNext(1)
        const error = yield* Effect.flip(Effect.scoped(Pool.get(pool)))
        expect(error).toBeInstanceOf(CreateError)
      }).pipe(Effect.scoped, Effect.provide(TestContext.TestContext))
    )
  })
})
