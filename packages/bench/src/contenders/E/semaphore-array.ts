import { Effect } from "effect"
import type { Contender } from "../../Contender.js"
import { forDuration } from "../../internal/effect3.js"
import { version } from "../../internal/versions.js"

const contender: Contender = {
  description: `Effect ${version("effect")} Semaphore + array of resources (the pool issue's bare baseline): ` +
    "permit, pop a resource, push it back",
  kind: "baseline",
  open: async (ctx) => {
    const semaphore = Effect.runSync(Effect.makeSemaphore(ctx.params.connections))
    const free = Array.from({ length: ctx.params.connections }, (_, id) => ({ id }))
    const cycle = semaphore.withPermits(1)(
      Effect.acquireUseRelease(
        Effect.sync(() => free.pop()!),
        () => Effect.void,
        (resource) =>
          Effect.sync(() => {
            free.push(resource)
          })
      )
    )
    return {
      run: async (phase) => ({
        ops: await Effect.runPromise(forDuration(ctx.params.concurrency, phase.durationMs, cycle))
      }),
      close: () => Promise.resolve()
    }
  }
}

export default contender
