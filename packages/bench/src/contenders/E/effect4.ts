import type { Contender } from "../../Contender.js"
import { acquire, forDuration, loadEffect4 } from "../../internal/effect4.js"

const contender: Contender = {
  description: "@effect/sql-pg 4.x on Effect 4: PgPool.make, pool.use(() => Effect.void)",
  kind: "client",
  open: async (ctx) => {
    const E = await loadEffect4(ctx.peersDir)
    const pool = await acquire(
      E,
      E.PgPool.make({ url: E.Redacted.make(ctx.url), maxConnections: ctx.params.connections })
    )
    const cycle = pool.value.use(() => E.Effect.void)
    return {
      description: `@effect/sql-pg on Effect 4 (${E.versions}): PgPool.make, pool.use(() => Effect.void)`,
      run: async (phase) => ({
        ops: await E.Effect.runPromise(forDuration(E, ctx.params.concurrency, phase.durationMs, () => cycle))
      }),
      close: pool.close
    }
  }
}

export default contender
