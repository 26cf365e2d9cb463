/**
 * Loops shared by the Effect 3 contenders.
 */
import { Effect } from "effect"

/** Runs `op` from `concurrency` fibers until `durationMs` has passed; succeeds with the count. */
export const forDuration = <A, E, R>(
  concurrency: number,
  durationMs: number,
  op: Effect.Effect<A, E, R>
): Effect.Effect<number, E, R> =>
  Effect.suspend(() => {
    const deadline = Date.now() + durationMs
    let ops = 0
    const worker = Effect.whileLoop({
      while: () => Date.now() < deadline,
      body: () => op,
      step: () => {
        ops++
      }
    })
    return Effect.forEach(Array.from({ length: concurrency }), () => worker, {
      concurrency: "unbounded",
      discard: true
    }).pipe(Effect.map(() => ops))
  })
