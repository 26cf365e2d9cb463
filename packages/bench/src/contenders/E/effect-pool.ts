import { PgConfig, PgConnection } from "@berth/pg"
import { Effect, Pool } from "effect"
import type { Contender } from "../../Contender.js"
import { acquire, forDuration } from "../../internal/effect3.js"
import { version } from "../../internal/versions.js"

const contender: Contender = {
  description: `Effect ${
    version("effect")
  }'s built-in Pool of @berth/pg connections (size 10): Effect.scoped(pool.get)`,
  kind: "client",
  open: async (ctx) => {
    const pool = await acquire(Effect.gen(function*() {
      const config = yield* PgConfig.parse(ctx.url)
      return yield* Pool.make({ acquire: PgConnection.connect(config), size: ctx.params.connections })
    }))
    const cycle = Effect.scoped(pool.value.get)
    return {
      run: async (phase) => ({
        ops: await Effect.runPromise(forDuration(ctx.params.concurrency, phase.durationMs, cycle))
      }),
      close: pool.close
    }
  }
}

export default contender
