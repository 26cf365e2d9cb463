import postgres from "postgres"
import type { Contender } from "../../Contender.js"
import { forDuration } from "../../internal/drive.js"
import { version } from "../../internal/versions.js"

const contender: Contender = {
  description: `postgres.js ${version("postgres")}: await sql.reserve(); reserved.release()`,
  kind: "client",
  open: async (ctx) => {
    const sql = postgres(ctx.url, { max: ctx.params.connections, onnotice: () => {} })
    return {
      run: async (phase) => ({
        ops: await forDuration(ctx.params.concurrency, phase.durationMs, async () => {
          const reserved = await sql.reserve()
          reserved.release()
        })
      }),
      close: () => sql.end()
    }
  }
}

export default contender
