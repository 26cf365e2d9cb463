import type { Contender } from "../../Contender.js"
import { forDuration, loadEffect4 } from "../../internal/effect4.js"

const contender: Contender = {
  description: "@effect/sql-pg 4.x on Effect 4: PgConnection.make in a scope, select 1, close the scope",
  kind: "client",
  open: async (ctx) => {
    const E = await loadEffect4(ctx.peersDir)
    const cycle = E.Effect.scoped(
      E.Effect.flatMap(
        E.PgConnection.make({ url: E.Redacted.make(ctx.scramUrl) }),
        (conn) => conn.query("select 1", [])
      )
    )
    return {
      description:
        `@effect/sql-pg on Effect 4 (${E.versions}): PgConnection.make in a scope, select 1, close the scope`,
      run: async (phase) => ({
        ops: await E.Effect.runPromise(forDuration(E, ctx.params.concurrency, phase.durationMs, () => cycle))
      }),
      close: () => Promise.resolve()
    }
  }
}

export default contender
