import type { Contender } from "../../Contender.js"
import { assertSerializable, checker, serializableUrl, transfer } from "../../internal/bank.js"
import { isRetryable } from "../../internal/drive.js"
import { forDuration, loadEffect4 } from "../../internal/effect4.js"

const contender: Contender = {
  description: "@effect/sql-pg 4.x on Effect 4, sql.withTransaction + Effect.retry on 40001/40P01",
  kind: "client",
  open: async (ctx) => {
    const E = await loadEffect4(ctx.peersDir)
    const check = await checker(ctx)
    const runtime = E.ManagedRuntime.make(
      E.PgClient.layer({ url: E.Redacted.make(serializableUrl(ctx.url)), maxConnections: ctx.params.connections })
    )
    const sql = await runtime.runPromise(E.Effect.service(E.PgClient.PgClient))
    const level = await runtime.runPromise(sql`show transaction_isolation`)
    assertSerializable((level[0] as { transaction_isolation?: string } | undefined)?.transaction_isolation)
    let retries = 0
    const one = () =>
      E.Effect.suspend(() => {
        const t = transfer(ctx.params.accounts)
        return E.Effect.retry(
          sql.withTransaction(
            E.Effect.flatMap(
              sql`update bench_accounts set balance = balance + ${t.firstDelta} where id = ${t.first}`,
              () => sql`update bench_accounts set balance = balance + ${t.secondDelta} where id = ${t.second}`
            )
          ),
          {
            while: (error) => {
              const retry = isRetryable(error)
              if (retry) retries++
              return retry
            }
          }
        )
      })
    return {
      description: `@effect/sql-pg on Effect 4 (${E.versions}), sql.withTransaction + Effect.retry on 40001/40P01`,
      reset: check.reset,
      run: async (phase) => {
        retries = 0
        const ops = await runtime.runPromise(forDuration(E, ctx.params.concurrency, phase.durationMs, one))
        return { ops, counters: { retries } }
      },
      close: async () => {
        await runtime.dispose()
        await check.close()
      }
    }
  }
}

export default contender
