import postgres from "postgres"
import type { Contender } from "../../Contender.js"
import { expectRows } from "../../internal/drive.js"
import { version } from "../../internal/versions.js"
import { streamQuery } from "../../Workload.js"

const contender: Contender = {
  description: `postgres.js ${version("postgres")}, .cursor(1000)`,
  kind: "client",
  open: async (ctx) => {
    const sql = postgres(ctx.url, { max: 1, onnotice: () => {} })
    return {
      run: async (phase) => {
        let rows = 0
        await sql.unsafe(`${streamQuery} limit $1`, [phase.rows]).cursor(1000, (batch) => {
          rows += batch.length
        })
        return { ops: expectRows(rows, phase.rows) }
      },
      close: () => sql.end()
    }
  }
}

export default contender
