import type { Contender } from "../../Contender.js"
import { forDuration, loadEffect4 } from "../../internal/effect4.js"

const contender: Contender = {
  description: "@effect/sql-pg 4.x on Effect 4 (own protocol), pooled, exclusive",
  kind: "client",
  open: async (ctx) => {
    const E = await loadEffect4(ctx.peersDir)
    const runtime = E.ManagedRuntime.make(
      E.PgClient.layer({ url: E.Redacted.make(ctx.url), maxConnections: ctx.params.connections })
    )
    const sql = await runtime.runPromise(E.Effect.service(E.PgClient.PgClient))
    const query = sql`select ${1}::int as v`
    return {
      description: `@effect/sql-pg on Effect 4 (${E.versions}), pooled, exclusive`,
      run: async (phase) => ({
        ops: await runtime.runPromise(forDuration(E, ctx.params.concurrency, phase.durationMs, () => query))
      }),
      close: () => runtime.dispose()
    }
  }
}

export default contender
