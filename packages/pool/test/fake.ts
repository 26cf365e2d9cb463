/**
 * Fake resources for the pool tests: each records how often its finalizer ran, and the
 * factory can be told to fail or to take time.
 */
import { Data, type Duration, Effect, type Fiber, type Scope, TestClock } from "effect"

export class FakeResource {
  destroyed = 0
  usable = true
  constructor(readonly id: number) {}
}

export class CreateError extends Data.TaggedError("CreateError")<{ readonly attempt: number }> {}

export interface Factory {
  readonly created: Array<FakeResource>
  readonly acquire: Effect.Effect<FakeResource, CreateError, Scope.Scope>
  /** Resources created and not yet destroyed. */
  live(): number
  /** The next `n` creations fail. */
  failNext(n: number): void
  /** Creation takes this long (TestClock time) from now on. */
  setDelay(delay: Duration.DurationInput | undefined): void
  attempts: number
}

export const makeFactory = (): Factory => {
  const created: Array<FakeResource> = []
  let failures = 0
  let delay: Duration.DurationInput | undefined
  const factory: Factory = {
    created,
    attempts: 0,
    live: () => created.filter((r) => r.destroyed === 0).length,
    failNext: (n) => {
      failures = n
    },
    setDelay: (d) => {
      delay = d
    },
    acquire: Effect.suspend(() => {
      const create = Effect.acquireRelease(
        Effect.suspend(() => {
          factory.attempts++
          if (failures > 0) {
            failures--
            return Effect.fail(new CreateError({ attempt: factory.attempts }))
          }
          return Effect.sync(() => {
            const resource = new FakeResource(created.length)
            created.push(resource)
            return resource
          })
        }),
        (resource) =>
          Effect.sync(() => {
            resource.destroyed++
          })
      )
      return delay === undefined ? create : Effect.zipRight(Effect.sleep(delay), create)
    })
  }
  return factory
}

/** Lets forked fibers run until they block (on the TestClock or on each other). */
export const settle: Effect.Effect<void> = Effect.gen(function*() {
  for (let i = 0; i < 100; i++) yield* Effect.yieldNow()
})

/** Adjusts the TestClock and lets everything settle. */
export const advance = (duration: Duration.DurationInput) => Effect.zipRight(TestClock.adjust(duration), settle)

/** Status of a fiber without blocking. */
export const isDone = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) =>
  Effect.map(fiber.poll, (option) => option._tag === "Some")
