import postgres from "postgres"
import type { Contender } from "../../Contender.js"
import { forDuration } from "../../internal/drive.js"
import { version } from "../../internal/versions.js"

const contender: Contender = {
  description: `postgres.js ${version("postgres")}, exclusive (max_pipeline 1)`,
  kind: "client",
  open: async (ctx) => {
    // max_pipeline is a documented option missing from postgres.js's type declarations.
    const options = { max: ctx.params.connections, max_pipeline: 1, onnotice: () => {} }
    const sql = postgres(ctx.url, options)
    return {
      run: async (phase) => ({
        ops: await forDuration(ctx.params.concurrency, phase.durationMs, () => sql`select ${1}::int as v`)
      }),
      close: () => sql.end()
    }
  }
}

export default contender
