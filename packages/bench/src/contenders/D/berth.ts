import { Db, Tx } from "@berth/sql"
import { Effect, ManagedRuntime, Schedule } from "effect"
import type { Contender } from "../../Contender.js"
import { checker, transfer, updateSql } from "../../internal/bank.js"
import { forDuration } from "../../internal/effect3.js"

const contender: Contender = {
  description: "Berth: Tx.transaction({ isolation: \"serializable\", retry }) on @berth/sql",
  kind: "client",
  open: async (ctx) => {
    const check = await checker(ctx)
    const runtime = ManagedRuntime.make(Db.layer({ url: ctx.url, maxOpen: ctx.params.connections }))
    let retries = 0
    const one = Effect.suspend(() => {
      const t = transfer(ctx.params.accounts)
      return Tx.transaction(
        Effect.zipRight(
          Db.execute(updateSql, [t.first, t.firstDelta]),
          Db.execute(updateSql, [t.second, t.secondDelta])
        ),
        {
          isolation: "serializable",
          retry: Schedule.forever.pipe(Schedule.tapInput(() =>
            Effect.sync(() => {
              retries++
            })
          ))
        }
      )
    })
    return {
      reset: check.reset,
      run: async (phase) => {
        retries = 0
        const ops = await runtime.runPromise(forDuration(ctx.params.concurrency, phase.durationMs, one))
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
