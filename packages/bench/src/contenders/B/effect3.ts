import { PgClient } from "@effect/sql-pg"
import { ManagedRuntime, Redacted, Stream } from "effect"
import type { Contender } from "../../Contender.js"
import { expectRows } from "../../internal/drive.js"
import { version } from "../../internal/versions.js"
import { streamQuery } from "../../Workload.js"

const contender: Contender = {
  description: `@effect/sql-pg ${version("@effect/sql-pg")} on effect ${version("effect")}, statement.stream`,
  kind: "client",
  open: async (ctx) => {
    const runtime = ManagedRuntime.make(PgClient.layer({ url: Redacted.make(ctx.url), maxConnections: 1 }))
    const sql = await runtime.runPromise(PgClient.PgClient)
    return {
      run: async (phase) => {
        const rows = await runtime.runPromise(
          Stream.runCount(sql.unsafe(`${streamQuery} limit $1`, [phase.rows]).stream)
        )
        return { ops: expectRows(rows, phase.rows) }
      },
      close: () => runtime.dispose()
    }
  }
}

export default contender
