import { PgConfig, PgConnection } from "@berth/pg"
import { Pool } from "@berth/pool"
import { Effect } from "effect"
import type { Contender } from "../../Contender.js"
import { acquire, forDuration } from "../../internal/effect3.js"

const contender: Contender = {
  description: "@berth/pool of @berth/pg connections (maxOpen 10): Pool.use(pool, f) (no Scope per lease)",
  kind: "client",
  open: async (ctx) => {
    const pool = await acquire(Effect.gen(function*() {
      const config = yield* PgConfig.parse(ctx.url)
      return yield* Pool.make({ acquire: PgConnection.connect(config), maxOpen: ctx.params.connections })
    }))
    const cycle = Pool.use(pool.value, () => Effect.void)
    return {
      run: async (phase) => ({
        ops: await Effect.runPromise(forDuration(ctx.params.concurrency, phase.durationMs, cycle))
      }),
      close: pool.close
    }
  }
}

export default contender
