import { Effect } from "effect"
import type { Contender } from "../../Contender.js"
import { forDuration } from "../../internal/effect3.js"
import { version } from "../../internal/versions.js"

const contender: Contender = {
  description: `bare Effect ${version("effect")} Semaphore (10 permits): withPermits(1)(Effect.void)`,
  kind: "baseline",
  open: async (ctx) => {
    const semaphore = Effect.runSync(Effect.makeSemaphore(ctx.params.connections))
    const cycle = semaphore.withPermits(1)(Effect.void)
    return {
      run: async (phase) => ({
        ops: await Effect.runPromise(forDuration(ctx.params.concurrency, phase.durationMs, cycle))
      }),
      close: () => Promise.resolve()
    }
  }
}

export default contender
