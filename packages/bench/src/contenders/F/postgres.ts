import postgres from "postgres"
import type { Contender } from "../../Contender.js"
import { forDuration } from "../../internal/drive.js"
import { version } from "../../internal/versions.js"

const contender: Contender = {
  description: `postgres.js ${version("postgres")}: postgres(url, { max: 1 }), select 1, sql.end()`,
  kind: "client",
  open: async (ctx) => ({
    run: async (phase) => ({
      ops: await forDuration(ctx.params.concurrency, phase.durationMs, async () => {
        const sql = postgres(ctx.scramUrl, { max: 1, onnotice: () => {} })
        await sql`select 1`
        await sql.end()
      })
    }),
    close: () => Promise.resolve()
  })
}

export default contender
