import pg from "pg"
import type { Contender } from "../../Contender.js"
import { forDuration } from "../../internal/drive.js"
import { version } from "../../internal/versions.js"

const contender: Contender = {
  description: `pg ${version("pg")} Client: connect, select 1, end`,
  kind: "client",
  open: async (ctx) => ({
    run: async (phase) => ({
      ops: await forDuration(ctx.params.concurrency, phase.durationMs, async () => {
        const client = new pg.Client({ connectionString: ctx.scramUrl })
        await client.connect()
        await client.query("select 1")
        await client.end()
      })
    }),
    close: () => Promise.resolve()
  })
}

export default contender
