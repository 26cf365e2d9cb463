import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Option, Random } from "effect"
import { SessionLock } from "../src/internal/sessionLock.js"

/** Runs `effect` holding the lock, released however it ends; the wait is interruptible. */
const holding = <A, E>(take: Effect.Effect<void>, release: () => void, effect: Effect.Effect<A, E>) =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(restore(take), () => Effect.ensuring(restore(effect), Effect.sync(release)))
  )

const shared = <A, E>(lock: SessionLock, effect: Effect.Effect<A, E>) =>
  holding(lock.shared, () => lock.releaseShared(), effect)

const exclusive = <A, E>(lock: SessionLock, effect: Effect.Effect<A, E>) =>
  holding(lock.exclusive, () => lock.releaseExclusive(), effect)

/** The lock is free: a shared and then an exclusive hold are taken at once. */
const expectFree = (lock: SessionLock) => {
  expect(lock.tryShared()).toBe(true)
  lock.releaseShared()
  // synchronous only if nothing holds it: runSync throws when the take would wait
  Effect.runSync(lock.exclusive)
  lock.releaseExclusive()
}

describe("SessionLock", () => {
  it.effect("statements share it; a savepoint waits for them, then holds it alone", () =>
    Effect.gen(function*() {
      const lock = new SessionLock()
      const log: Array<string> = []
      expect(lock.tryShared()).toBe(true)
      expect(lock.tryShared()).toBe(true)
      const savepoint = yield* Effect.fork(exclusive(lock, Effect.sync(() => log.push("savepoint"))))
      yield* Effect.yieldNow()
      lock.releaseShared()
      yield* Effect.yieldNow()
      expect(log).toEqual([])
      lock.releaseShared()
      yield* Fiber.join(savepoint)
      expect(log).toEqual(["savepoint"])
      // while a savepoint holds it, statements wait for it
      yield* lock.exclusive
      const statement = yield* Effect.fork(shared(lock, Effect.sync(() => log.push("statement"))))
      yield* Effect.yieldNow()
      expect(log).toEqual(["savepoint"])
      lock.releaseExclusive()
      yield* Fiber.join(statement)
      expect(log).toEqual(["savepoint", "statement"])
      expectFree(lock)
    }))

  it.live("a statement nested in another's hold is not queued behind a waiting savepoint", () =>
    Effect.gen(function*() {
      // Db.withConnection holds the session while its body runs statements on it: queueing the
      // inner statement behind a savepoint that waits for the outer hold would deadlock
      const lock = new SessionLock()
      const outer = yield* Effect.fork(
        shared(lock, Effect.zipRight(Effect.yieldNow(), shared(lock, Effect.succeed("inner ran"))))
      )
      const savepoint = yield* Effect.fork(exclusive(lock, Effect.void))
      expect(yield* Fiber.join(outer).pipe(Effect.timeoutOption("2 seconds"))).toEqual(Option.some("inner ran"))
      yield* Fiber.join(savepoint)
      expectFree(lock)
    }))

  it.effect("an interrupted waiter holds nothing", () =>
    Effect.gen(function*() {
      const lock = new SessionLock()
      expect(lock.tryShared()).toBe(true)
      const savepoint = yield* Effect.fork(exclusive(lock, Effect.void))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(savepoint)
      lock.releaseShared()
      expectFree(lock)
      yield* lock.exclusive
      const statement = yield* Effect.fork(shared(lock, Effect.void))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(statement)
      lock.releaseExclusive()
      expectFree(lock)
    }))

  it.live("a waiter that yields between finding the lock busy and queueing is not stranded", () =>
    Effect.gen(function*() {
      // a few operations of padding before the waiter's take, and a runtime that yields every
      // 16 or 32 operations, move the point where it yields across its whole path; the release
      // runs from another fiber as soon as the waiter yields
      for (let pad = 0; pad < 40; pad++) {
        for (const maxOps of [16, 32]) {
          const lock = new SessionLock()
          expect(lock.tryShared()).toBe(true)
          const padding = Effect.forEach(Array.from({ length: pad }), () => Effect.void, { discard: true })
          const savepoint = yield* Effect.fork(
            Effect.withMaxOpsBeforeYield(Effect.zipRight(padding, exclusive(lock, Effect.succeed(pad))), maxOps)
          )
          yield* Effect.fork(Effect.sync(() => lock.releaseShared()))
          const outcome = yield* Fiber.join(savepoint).pipe(Effect.timeoutOption("1 second"))
          expect([pad, maxOps, outcome]).toEqual([pad, maxOps, Option.some(pad)])
          expectFree(lock)
        }
      }
    }))

  it.live("holders never overlap a savepoint, under random interleavings and interruptions", () =>
    Effect.gen(function*() {
      const lock = new SessionLock()
      let sharedNow = 0
      let exclusiveNow = 0
      const violations: Array<string> = []
      const check = () => {
        if (exclusiveNow > 1 || (exclusiveNow === 1 && sharedNow > 0)) {
          violations.push(`exclusive ${exclusiveNow} with shared ${sharedNow}`)
        }
      }
      const work = (isExclusive: boolean) =>
        Effect.suspend(() => {
          if (isExclusive) exclusiveNow++
          else sharedNow++
          check()
          return Effect.ensuring(
            Effect.zipRight(Effect.yieldNow(), Effect.sync(check)),
            Effect.sync(() => {
              if (isExclusive) exclusiveNow--
              else sharedNow--
            })
          )
        })
      for (let round = 0; round < 30; round++) {
        const fibers = yield* Effect.forEach(Array.from({ length: 40 }, (_, i) => i), () =>
          Effect.gen(function*() {
            const isExclusive = (yield* Random.nextIntBetween(0, 5)) === 0
            return yield* Effect.fork(isExclusive ? exclusive(lock, work(true)) : shared(lock, work(false)))
          }))
        for (const fiber of fibers) {
          if ((yield* Random.nextIntBetween(0, 4)) === 0) yield* Effect.fork(Fiber.interrupt(fiber))
          yield* Effect.yieldNow()
        }
        // a hold leaked by an interrupted waiter would leave the rest waiting forever
        const exits = yield* Effect.forEach(fibers, Fiber.await).pipe(
          Effect.timeoutFail({
            duration: "5 seconds",
            onTimeout: () => new Error("waiters still waiting: a hold leaked")
          })
        )
        for (const exit of exits) {
          if (Exit.isFailure(exit)) expect(Cause.isInterruptedOnly(exit.cause)).toBe(true)
        }
        expect([sharedNow, exclusiveNow]).toEqual([0, 0])
        expectFree(lock)
      }
      expect(violations).toEqual([])
    }))
})
