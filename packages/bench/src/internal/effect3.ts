/**
 * Loops shared by the Effect 3 contenders.
 */
import { Effect, Exit, Scope } from "effect"

/**
 * Runs `op(task)` in a loop from `concurrency` fibers (task = 0, 1, ...) until `durationMs`
 * has passed; succeeds with the number of completed ops.
 */
export const forDurationTasks = <A, E, R>(
  concurrency: number,
  durationMs: number,
  op: (task: number) => Effect.Effect<A, E, R>
): Effect.Effect<number, E, R> =>
  Effect.suspend(() => {
    const deadline = Date.now() + durationMs
    let ops = 0
    const worker = (task: number) => {
      const body = op(task)
      return Effect.whileLoop({
        while: () => Date.now() < deadline,
        body: () => body,
        step: () => {
          ops++
        }
      })
    }
    return Effect.forEach(Array.from({ length: concurrency }, (_, task) => task), worker, {
      concurrency: "unbounded",
      discard: true
    }).pipe(Effect.map(() => ops))
  })

/** Runs `op` from `concurrency` fibers until `durationMs` has passed; succeeds with the count. */
export const forDuration = <A, E, R>(
  concurrency: number,
  durationMs: number,
  op: Effect.Effect<A, E, R>
): Effect.Effect<number, E, R> => forDurationTasks(concurrency, durationMs, () => op)

/** Acquires a scoped resource and returns it with the function that closes its scope. */
export const acquire = async <A, E>(
  resource: Effect.Effect<A, E, Scope.Scope>
): Promise<{ readonly value: A; readonly close: () => Promise<void> }> => {
  const scope = Effect.runSync(Scope.make())
  const value = await Effect.runPromise(Scope.extend(resource, scope))
  return { value, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}
