import pg from "pg"
import type { Contender } from "../../Contender.js"
import { assertSerializable, checker, serializableUrl, transfer, updateSql } from "../../internal/bank.js"
import { forDuration, isRetryable } from "../../internal/drive.js"
import { version } from "../../internal/versions.js"

const contender: Contender = {
  description: `pg ${version("pg")} Pool, BEGIN/COMMIT by hand, retry loop on 40001/40P01`,
  kind: "client",
  open: async (ctx) => {
    const check = await checker(ctx)
    const pool = new pg.Pool({ connectionString: serializableUrl(ctx.url), max: ctx.params.connections })
    assertSerializable((await pool.query("show transaction_isolation")).rows[0]?.transaction_isolation)
    let retries = 0
    const once = async (t: ReturnType<typeof transfer>): Promise<void> => {
      const client = await pool.connect()
      try {
        await client.query("begin")
        await client.query(updateSql, [t.first, t.firstDelta])
        await client.query(updateSql, [t.second, t.secondDelta])
        await client.query("commit")
      } catch (error) {
        await client.query("rollback")
        throw error
      } finally {
        client.release()
      }
    }
    const run = async (t: ReturnType<typeof transfer>): Promise<void> => {
      for (;;) {
        try {
          return await once(t)
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
        await pool.end()
        await check.close()
      }
    }
  }
}

export default contender
