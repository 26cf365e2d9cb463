import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import postgres from "postgres"
import type { Contender } from "../../Contender.js"
import { checker, chunksFor, payloads } from "../../internal/copy.js"
import { version } from "../../internal/versions.js"
import { copyTable } from "../../Workload.js"

const contender: Contender = {
  description: `postgres.js ${version("postgres")}, .writable()`,
  kind: "client",
  open: async (ctx) => {
    const payload = payloads(ctx)
    const check = await checker(ctx)
    const sql = postgres(ctx.url, { max: 1, onnotice: () => {} })
    return {
      reset: check.reset,
      run: async (phase) => {
        const writable = await sql.unsafe(`copy ${copyTable} from stdin`).writable()
        await pipeline(Readable.from(chunksFor(payload, phase)), writable)
        // The row count is checked by `close` (postgres.js's writable does not report it).
        return { ops: phase.rows }
      },
      close: async () => {
        await sql.end()
        await check.close()
      }
    }
  }
}

export default contender
