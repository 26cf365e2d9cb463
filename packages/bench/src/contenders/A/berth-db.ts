import { Db } from "@berth/sql"
import { ManagedRuntime } from "effect"
import type { Contender } from "../../Contender.js"
import { forDuration } from "../../internal/effect3.js"

const contender: Contender = {
  description:
    "Berth: Db.query on @berth/sql (pool of @berth/pg connections, spans on; statements pipelined when the pool is saturated)",
  kind: "client",
  open: async (ctx) => {
    const runtime = ManagedRuntime.make(
      Db.layer({ url: ctx.url, maxOpen: ctx.params.connections, minIdle: ctx.params.connections })
    )
    const query = Db.query("select $1::int as v", [1])
    return {
      run: async (phase) => ({
        ops: await runtime.runPromise(forDuration(ctx.params.concurrency, phase.durationMs, query))
      }),
      close: () => runtime.dispose()
    }
  }
}

export default contender
