import postgres from "postgres"
import type { Contender } from "../../Contender.js"
import { assertSerializable, checker, serializableUrl, transfer, updateSql } from "../../internal/bank.js"
import { forDuration, isRetryable } from "../../internal/drive.js"
import { version } from "../../internal/versions.js"

const contender: Contender = {
  description: `postgres.js ${version("postgres")}, sql.begin, retry loop on 40001/40P01`,
  kind: "client",
  open: async (ctx) => {
    const check = await checker(ctx)
    const sql = postgres(serializableUrl(ctx.url), { max: ctx.params.connections, onnotice: () => {} })
    assertSerializable((await sql`show transaction_isolation`)[0]?.["transaction_isolation"])
    let retries = 0
    const run = async (t: ReturnType<typeof transfer>): Promise<void> => {
      for (;;) {
        try {
          await sql.begin(async (tx) => {
            await tx.unsafe(updateSql, [t.first, t.firstDelta])
            await tx.unsafe(updateSql, [t.second, t.secondDelta])
          })
          return
        } catch (error) {
          if (!isRetryable(error)) throw error
          retries++
        }
      }
    }
    return {
      reset: check.reset,
      run: async (phase) => {
        retries = 0
        const ops = await forDuration(
          ctx.params.concurrency,
          phase.durationMs,
          () => run(transfer(ctx.params.accounts))
        )
        return { ops, counters: { retries } }
      },
      close: async () => {
        await sql.end()
        await check.close()
      }
    }
  }
}

export default contender
