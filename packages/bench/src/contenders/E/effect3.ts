import { PgClient } from "@effect/sql-pg"
import { Effect, ManagedRuntime, Redacted } from "effect"
import type { Contender } from "../../Contender.js"
import { forDuration } from "../../internal/effect3.js"
import { version } from "../../internal/versions.js"

const contender: Contender = {
  description: `@effect/sql-pg ${version("@effect/sql-pg")} on effect ${version("effect")}: Effect.scoped(sql.reserve)`,
  kind: "client",
  open: async (ctx) => {
    const runtime = ManagedRuntime.make(
      PgClient.layer({ url: Redacted.make(ctx.url), maxConnections: ctx.params.connections })
    )
    const sql = await runtime.runPromise(PgClient.PgClient)
    const cycle = Effect.scoped(sql.reserve)
    return {
      run: async (phase) => ({
        ops: await runtime.runPromise(forDuration(ctx.params.concurrency, phase.durationMs, cycle))
      }),
      close: () => runtime.dispose()
    }
  }
}

export default contender
