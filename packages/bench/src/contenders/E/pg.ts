import pg from "pg"
import type { Contender } from "../../Contender.js"
import { forDuration } from "../../internal/drive.js"
import { version } from "../../internal/versions.js"

const contender: Contender = {
  description: `pg ${version("pg")} Pool: await pool.connect(); client.release()`,
  kind: "client",
  open: async (ctx) => {
    const pool = new pg.Pool({ connectionString: ctx.url, max: ctx.params.connections })
    return {
      run: async (phase) => ({
        ops: await forDuration(ctx.params.concurrency, phase.durationMs, async () => {
          const client = await pool.connect()
          client.release()
        })
      }),
      close: () => pool.end()
    }
  }
}

export default contender
