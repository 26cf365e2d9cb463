import { PgConfig, PgConnection } from "@berth/pg"
import { Effect, Stream } from "effect"
import type { Contender } from "../../Contender.js"
import { checker, chunksFor, payloads } from "../../internal/copy.js"
import { expectRows } from "../../internal/drive.js"
import { acquire } from "../../internal/effect3.js"
import { copyTable } from "../../Workload.js"

/** CopyData payloads per socket write: 8 chunks of 2000 rows, about 0.7 MB. */
const chunksPerWrite = 8

const contender: Contender = {
  description: "@berth/pg PgConnection.copyFrom: the same pre-encoded 2000-row COPY text chunks, " +
    `${chunksPerWrite} CopyData per Sink chunk, payloads sent without copying`,
  kind: "client",
  open: async (ctx) => {
    const payload = payloads(ctx)
    const check = await checker(ctx)
    const conn = await acquire(Effect.flatMap(PgConfig.parse(ctx.url), (config) => PgConnection.connect(config)))
    return {
      reset: check.reset,
      run: async (phase) => {
        const copied = await Effect.runPromise(
          Stream.fromIterable(chunksFor(payload, phase)).pipe(
            Stream.rechunk(chunksPerWrite),
            Stream.run(conn.value.copyFrom(`copy ${copyTable} from stdin`))
          )
        )
        return { ops: expectRows(copied, phase.rows) }
      },
      close: async () => {
        await conn.close()
        await check.close()
      }
    }
  }
}

export default contender
