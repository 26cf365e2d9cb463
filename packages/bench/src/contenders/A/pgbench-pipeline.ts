import type { Contender } from "../../Contender.js"
import { runPgbench } from "./pgbench.js"

// 64 tasks over 10 connections is ~6.4 statements in flight per connection; pgbench sends 6
// per pipeline (one Sync per pipeline, not per statement).
const depth = 6

const contender: Contender = {
  description: `server limit, pipelined: pgbench -M prepared, 10 clients, ${depth} statements per \\startpipeline`,
  kind: "limit",
  open: async (ctx) => ({
    run: (phase) =>
      runPgbench(
        ctx.url,
        `\\set v 1\n\\startpipeline\n${"select :v::int as v;\n".repeat(depth)}\\endpipeline\n`,
        phase.durationMs,
        ctx.params.connections,
        depth
      ),
    close: () => Promise.resolve()
  })
}

export default contender
