import postgres from "postgres"
import type { Contender } from "../../Contender.js"
import { forDuration } from "../../internal/drive.js"
import { version } from "../../internal/versions.js"

const contender: Contender = {
  description: `postgres.js ${version("postgres")}, pipelined (default max_pipeline 100)`,
  kind: "client",
  open: async (ctx) => {
    const sql = postgres(ctx.url, { max: ctx.params.connections, onnotice: () => {} })
    return {
      run: async (phase) => ({
        ops: await forDuration(ctx.params.concurrency, phase.durationMs, () => sql`select ${1}::int as v`)
      }),
      close: () => sql.end()
    }
  }
}

export default contender
