import { EffectSql } from "@berth/sql"
import { SqlClient } from "@effect/sql"
import { ManagedRuntime } from "effect"
import type { Contender } from "../../Contender.js"
import { forDuration } from "../../internal/effect3.js"

const contender: Contender = {
  description:
    "Berth: @effect/sql SqlClient on @berth/sql (sql template, pool of @berth/pg connections; statements pipelined when the pool is saturated)",
  kind: "client",
  open: async (ctx) => {
    const runtime = ManagedRuntime.make(
      EffectSql.layerUrl(ctx.url, { maxOpen: ctx.params.connections, minIdle: ctx.params.connections })
    )
    const sql = await runtime.runPromise(SqlClient.SqlClient)
    const query = sql`select ${1}::int as v`
    return {
      run: async (phase) => ({
        ops: await runtime.runPromise(forDuration(ctx.params.concurrency, phase.durationMs, query))
      }),
      close: () => runtime.dispose()
    }
  }
}

export default contender
