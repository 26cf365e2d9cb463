import { PgClient } from "@effect/sql-pg"
import { Effect, ManagedRuntime, Redacted } from "effect"
import type { Contender } from "../../Contender.js"
import { assertSerializable, checker, serializableUrl, transfer } from "../../internal/bank.js"
import { isRetryable } from "../../internal/drive.js"
import { forDuration } from "../../internal/effect3.js"
import { version } from "../../internal/versions.js"

const contender: Contender = {
  description: `@effect/sql-pg ${version("@effect/sql-pg")} on effect ${version("effect")}, ` +
    "sql.withTransaction + Effect.retry on 40001/40P01 (COMMIT defects turned back into failures)",
  kind: "client",
  open: async (ctx) => {
    const check = await checker(ctx)
    const runtime = ManagedRuntime.make(
      PgClient.layer({ url: Redacted.make(serializableUrl(ctx.url)), maxConnections: ctx.params.connections })
    )
    const sql = await runtime.runPromise(PgClient.PgClient)
    const level = await runtime.runPromise(sql<{ transaction_isolation: string }>`show transaction_isolation`)
    assertSerializable(level[0]?.transaction_isolation)
    let retries = 0
    let commitDefects = 0
    const one = Effect.suspend(() => {
      const t = transfer(ctx.params.accounts)
      return sql.withTransaction(
        Effect.zipRight(
          sql`update bench_accounts set balance = balance + ${t.firstDelta} where id = ${t.first}`,
          sql`update bench_accounts set balance = balance + ${t.secondDelta} where id = ${t.second}`
        )
      ).pipe(
        // @effect/sql 0.52 turns a failed COMMIT (where SERIALIZABLE reports most conflicts)
        // into a defect; a user has to turn it back into a failure to retry it.
        Effect.catchAllDefect((defect) => {
          if (isRetryable(defect)) commitDefects++
          return Effect.fail(defect)
        }),
        Effect.retry({
          while: (error) => {
            const retry = isRetryable(error)
            if (retry) retries++
            return retry
          }
        })
      )
    })
    return {
      reset: check.reset,
      run: async (phase) => {
        retries = 0
        commitDefects = 0
        const ops = await runtime.runPromise(forDuration(ctx.params.concurrency, phase.durationMs, one))
        return { ops, counters: { retries, "COMMIT defects": commitDefects } }
      },
      close: async () => {
        await runtime.dispose()
        await check.close()
      }
    }
  }
}

export default contender
