import { PgConfig, PgConnection } from "@berth/pg"
import { Effect } from "effect"
import type { Contender } from "../../Contender.js"
import { forDuration } from "../../internal/effect3.js"

const contender: Contender = {
  description: "@berth/pg: PgConnection.connect in a scope, select 1, close the scope",
  kind: "client",
  open: async (ctx) => {
    const config = await Effect.runPromise(PgConfig.parse(ctx.scramUrl))
    const cycle = Effect.scoped(Effect.flatMap(PgConnection.connect(config), (conn) => conn.query("select 1")))
    return {
      run: async (phase) => ({
        ops: await Effect.runPromise(forDuration(ctx.params.concurrency, phase.durationMs, cycle))
      }),
      close: () => Promise.resolve()
    }
  }
}

export default contender
