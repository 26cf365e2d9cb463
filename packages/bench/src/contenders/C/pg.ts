import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import pg from "pg"
import { from as copyFrom } from "pg-copy-streams"
import type { Contender } from "../../Contender.js"
import { checker, chunksFor, payloads } from "../../internal/copy.js"
import { expectRows } from "../../internal/drive.js"
import { version } from "../../internal/versions.js"
import { copyTable } from "../../Workload.js"

const contender: Contender = {
  description: `pg ${version("pg")} + pg-copy-streams ${version("pg-copy-streams")}`,
  kind: "client",
  open: async (ctx) => {
    const payload = payloads(ctx)
    const check = await checker(ctx)
    const client = new pg.Client({ connectionString: ctx.url })
    await client.connect()
    return {
      reset: check.reset,
      run: async (phase) => {
        const stream = client.query(copyFrom(`copy ${copyTable} from stdin`))
        await pipeline(Readable.from(chunksFor(payload, phase)), stream)
        return { ops: expectRows(stream.rowCount, phase.rows) }
      },
      close: async () => {
        await client.end()
        await check.close()
      }
    }
  }
}

export default contender
