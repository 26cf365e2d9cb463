import { PgConfig, PgConnection } from "@berth/pg"
import { Effect, Stream } from "effect"
import type { Contender } from "../../Contender.js"
import { expectRows } from "../../internal/drive.js"
import { acquire } from "../../internal/effect3.js"
import { streamQuery } from "../../Workload.js"

/** Rows per Execute: the peers' batch size (pg-cursor read(1000), postgres.js cursor(1000)). */
const fetchSize = 1000

const contender: Contender = {
  description: `@berth/pg PgConnection.stream over a portal, fetchSize ${fetchSize}, object rows`,
  kind: "client",
  open: async (ctx) => {
    const conn = await acquire(Effect.flatMap(PgConfig.parse(ctx.url), (config) => PgConnection.connect(config)))
    return {
      run: async (phase) => {
        const rows = await Effect.runPromise(
          Stream.runCount(conn.value.stream(`${streamQuery} limit $1`, [phase.rows], { fetchSize }))
        )
        return { ops: expectRows(rows, phase.rows) }
      },
      close: conn.close
    }
  }
}

export default contender
