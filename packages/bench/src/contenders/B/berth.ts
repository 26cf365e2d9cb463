import { Db, Rows } from "@berth/sql"
import { ManagedRuntime, Stream } from "effect"
import type { Contender } from "../../Contender.js"
import { expectRows } from "../../internal/drive.js"
import { streamQuery } from "../../Workload.js"

const contender: Contender = {
  description: "Berth: Rows.stream on @berth/sql (server-side cursor, fetchSize 5000)",
  kind: "client",
  open: async (ctx) => {
    const runtime = ManagedRuntime.make(Db.layer({ url: ctx.url, maxOpen: 1 }))
    return {
      run: async (phase) => {
        const rows = await runtime.runPromise(
          Stream.runCount(Rows.stream(`${streamQuery} limit $1`, [phase.rows], { fetchSize: 5000 }))
        )
        return { ops: expectRows(rows, phase.rows) }
      },
      close: () => runtime.dispose()
    }
  }
}

export default contender
