import type { Contender } from "../../Contender.js"
import { expectRows } from "../../internal/drive.js"
import { loadEffect4 } from "../../internal/effect4.js"
import { streamQuery } from "../../Workload.js"

const contender: Contender = {
  description: "@effect/sql-pg 4.x on Effect 4, statement.stream",
  kind: "client",
  open: async (ctx) => {
    const E = await loadEffect4(ctx.peersDir)
    const runtime = E.ManagedRuntime.make(E.PgClient.layer({ url: E.Redacted.make(ctx.url), maxConnections: 1 }))
    const sql = await runtime.runPromise(E.Effect.service(E.PgClient.PgClient))
    return {
      description: `@effect/sql-pg on Effect 4 (${E.versions}), statement.stream`,
      run: async (phase) => {
        const rows = await runtime.runPromise(
          E.Stream.runCount(sql.unsafe(`${streamQuery} limit $1`, [phase.rows]).stream)
        )
        return { ops: expectRows(rows, phase.rows) }
      },
      close: () => runtime.dispose()
    }
  }
}

export default contender
