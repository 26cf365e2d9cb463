import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Ref, Schedule, TestClock } from "effect"
import * as Retry from "../src/Retry.js"

describe("Retry classification", () => {
  it("finds the SQLSTATE through cause chains", () => {
    expect(Retry.sqlState({ code: "40001" })).toBe("40001")
    expect(Retry.sqlState({ message: "x", cause: { cause: { code: "40P01" } } })).toBe("40P01")
    expect(Retry.sqlState(new Error("no code"))).toBeUndefined()
    expect(Retry.sqlState({ code: "ECONNRESET" })).toBeUndefined()
  })

  it("retries serialization failures and deadlocks only", () => {
    expect(Retry.isRetryable({ code: "40001" })).toBe(true)
    expect(Retry.isRetryable({ code: "40P01" })).toBe(true)
    for (const code of ["23505", "57014", "08006", "40002", "25P02"]) expect(Retry.isRetryable({ code })).toBe(false)
  })
})

describe("Retry.exponential", () => {
  it.effect("stops after maxRetries and keeps every delay within jitter of the capped exponential", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const failing = Ref.updateAndGet(attempts, (n) => n + 1).pipe(Effect.flatMap(() => Effect.fail("conflict")))
      const delays: Array<number> = []
      const schedule = Retry.exponential({ base: "10 millis", cap: "40 millis", maxRetries: 5 }).pipe(
        Schedule.delays,
        Schedule.tapOutput((delay) => Effect.sync(() => delays.push(Duration.toMillis(delay))))
      )
      const fiber = yield* Effect.fork(Effect.retry(failing, schedule))
      yield* TestClock.adjust("10 seconds")
      const exit = yield* Fiber.await(fiber)
      expect(exit._tag).toBe("Failure")
      expect(yield* Ref.get(attempts)).toBe(6)
      const expected = [10, 20, 40, 40, 40]
      // The schedule is stepped once per failure; the sixth step is the one that ends it.
      delays.slice(0, 5).forEach((delay, i) => {
        expect(delay).toBeGreaterThanOrEqual(expected[i]! * 0.8)
        expect(delay).toBeLessThanOrEqual(expected[i]! * 1.2)
      })
    }))
})
