/**
 * Thousands of concurrent fibers on a small pool, with random interruptions and failures, on
 * the live clock. Whatever the interleaving, the pool must end with nothing in use, nobody
 * waiting, no resource ever leased twice, and every resource destroyed exactly once on close.
 */
import { Pool } from "@berth/pool"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Random, Scope } from "effect"
import { type FakeResource, makeFactory } from "./fake.js"

describe("Pool under load", () => {
  it.live(
    "5000 fibers, 10 resources, random interruptions: ends with inUse = 0 and waiting = 0",
    () =>
      Effect.gen(function*() {
        const factory = makeFactory()
        const scope = yield* Scope.make()
        const pool = yield* Pool.make({
          acquire: factory.acquire,
          maxOpen: 10,
          maxIdle: 6,
          maxLifetime: "50 millis",
          maxLifetimeJitter: "20 millis",
          isUsable: (r) => r.usable
        }).pipe(Scope.extend(scope))
        const held = new Set<FakeResource>()
        const violations: Array<string> = []
        let maxLive = 0
        const worker = (i: number) =>
          Effect.scoped(
            Effect.gen(function*() {
              const resource = yield* Pool.get(pool)
              if (held.has(resource)) violations.push(`resource ${resource.id} leased twice`)
              if (resource.destroyed > 0) violations.push(`resource ${resource.id} handed out after destruction`)
              held.add(resource)
              // an interrupted holder stops holding too (this runs before the lease's release)
              yield* Effect.addFinalizer(() => Effect.sync(() => held.delete(resource)))
              maxLive = Math.max(maxLive, factory.live())
              const spins = yield* Random.nextIntBetween(0, 5)
              for (let s = 0; s < spins; s++) yield* Effect.yieldNow()
              held.delete(resource)
              if (i % 97 === 0) resource.usable = false
              if (i % 13 === 0) yield* Pool.invalidate(pool, resource)
              if (i % 7 === 0) yield* Effect.fail("boom")
            }).pipe(Effect.onInterrupt(() => Effect.void))
          )
        const fibers = yield* Effect.forEach(
          Array.from({ length: 5000 }, (_, i) => i),
          (i) => Effect.fork(worker(i))
        )
        // interrupt a random fifth of them at random moments, some queued, some holding
        yield* Effect.forEach(fibers, (fiber, i) =>
          i % 5 === 0
            ? Effect.flatMap(
              Random.nextIntBetween(0, 3),
              (spins) => Effect.zipRight(Effect.repeatN(Effect.yieldNow(), spins), Fiber.interruptFork(fiber))
            )
            : Effect.void, { discard: true })
        const exits = yield* Effect.forEach(fibers, Fiber.await)
        const stats = yield* Pool.stats(pool)
        expect({ inUse: stats.inUse, waiting: stats.waiting, violations }).toEqual({
          inUse: 0,
          waiting: 0,
          violations: []
        })
        expect(maxLive).toBeLessThanOrEqual(10)
        const succeeded = exits.filter(Exit.isSuccess).length
        const interrupted = exits.filter((exit) => Exit.isInterrupted(exit)).length
        expect(succeeded + interrupted + exits.filter((e) => Exit.isFailure(e) && !Exit.isInterrupted(e)).length).toBe(
          5000
        )
        expect(stats.acquireCount).toBeGreaterThan(0)
        expect(stats.canceledAcquireCount).toBeLessThanOrEqual(interrupted)
        yield* Scope.close(scope, Exit.void)
        expect(factory.created.every((r) => r.destroyed === 1)).toBe(true)
        const after = yield* Pool.stats(pool)
        expect({ open: after.open, closing: after.closing, constructing: after.constructing }).toEqual({
          open: 0,
          closing: 0,
          constructing: 0
        })
        const closedTotal = after.closedMaxIdle + after.closedMaxIdleTime + after.closedMaxLifetime +
          after.closedHealthCheck + after.closedBroken + after.closedPoolClose
        expect(closedTotal).toBe(factory.created.length)
      }),
    120_000
  )
})
