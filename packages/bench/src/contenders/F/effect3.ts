import { Reactivity } from "@effect/experimental"
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import type { Contender } from "../../Contender.js"
import { forDuration } from "../../internal/effect3.js"
import { version } from "../../internal/versions.js"

const contender: Contender = {
  description: `@effect/sql-pg ${version("@effect/sql-pg")} on effect ${version("effect")}: ` +
    "PgClient.make (maxConnections 1) in a scope, select 1, close the scope",
  kind: "client",
  open: async (ctx) => {
    const cycle = Effect.scoped(
      Effect.flatMap(
        PgClient.make({ url: Redacted.make(ctx.scramUrl), maxConnections: 1 }),
        (sql) => sql`select 1`
      )
    ).pipe(Effect.provide(Reactivity.layer))
    return {
      run: async (phase) => ({
        ops: await Effect.runPromise(forDuration(ctx.params.concurrency, phase.durationMs, cycle))
      }),
      close: () => Promise.resolve()
    }
  }
}

export default contender
