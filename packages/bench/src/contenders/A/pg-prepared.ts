import pg from "pg"
import type { Contender } from "../../Contender.js"
import { forDuration } from "../../internal/drive.js"
import { version } from "../../internal/versions.js"

const contender: Contender = {
  description: `pg ${version("pg")} Pool, exclusive, named prepared statement ({ name })`,
  kind: "client",
  open: async (ctx) => {
    const pool = new pg.Pool({ connectionString: ctx.url, max: ctx.params.connections })
    const query = { name: "bench_a", text: "select $1::int as v", values: [1] }
    return {
      run: async (phase) => ({
        ops: await forDuration(ctx.params.concurrency, phase.durationMs, () => pool.query(query))
      }),
      close: () => pool.end()
    }
  }
}

export default contender
