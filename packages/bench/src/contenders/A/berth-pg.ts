import { PgConfig, PgConnection } from "@berth/pg"
import { Effect } from "effect"
import type { Contender } from "../../Contender.js"
import { acquire, forDurationTasks } from "../../internal/effect3.js"

const contender: Contender = {
  description: "@berth/pg PgConnection ×10, no pool: fiber i always uses connection i mod 10, " +
    "which pipelines the statements of its fibers (Berth's pipelined mode)",
  kind: "client",
  open: async (ctx) => {
    const conns = await acquire(Effect.gen(function*() {
      const config = yield* PgConfig.parse(ctx.url)
      return yield* Effect.all(
        Array.from({ length: ctx.params.connections }, () => PgConnection.connect(config)),
        { concurrency: "unbounded" }
      )
    }))
    return {
      run: async (phase) => ({
        ops: await Effect.runPromise(
          forDurationTasks(
            ctx.params.concurrency,
            phase.durationMs,
            (task) => conns.value[task % conns.value.length]!.query("select $1::int as v", [1])
          )
        )
      }),
      close: conns.close
    }
  }
}

export default contender
