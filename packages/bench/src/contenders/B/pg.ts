import pg from "pg"
import Cursor from "pg-cursor"
import type { Contender } from "../../Contender.js"
import { expectRows } from "../../internal/drive.js"
import { version } from "../../internal/versions.js"
import { streamQuery } from "../../Workload.js"

const contender: Contender = {
  description: `pg ${version("pg")} + pg-cursor ${version("pg-cursor")}, read(1000) batches`,
  kind: "client",
  open: async (ctx) => {
    const client = new pg.Client({ connectionString: ctx.url })
    await client.connect()
    return {
      run: async (phase) => {
        const cursor = client.query(new Cursor(`${streamQuery} limit $1`, [phase.rows]))
        let rows = 0
        for (;;) {
          const batch = await cursor.read(1000)
          if (batch.length === 0) break
          rows += batch.length
        }
        await cursor.close()
        return { ops: expectRows(rows, phase.rows) }
      },
      close: () => client.end()
    }
  }
}

export default contender
