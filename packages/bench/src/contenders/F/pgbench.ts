import type { Contender } from "../../Contender.js"
import { pgbench } from "../../internal/drive.js"

const contender: Contender = {
  description: "server limit: pgbench -C (new connection per transaction, libpq SCRAM), 1 client, select 1",
  kind: "limit",
  open: async (ctx) => ({
    run: async (phase) => {
      const seconds = Math.max(1, Math.round(phase.durationMs / 1000))
      const r = await pgbench(
        ctx.scramUrl,
        "select 1;\n",
        ["-n", "-C", "-c", String(ctx.params.concurrency), "-j", "1", "-T", String(seconds)],
        seconds * 1000 + 60_000
      )
      return {
        ops: r.transactions,
        elapsedMs: (r.transactions / r.tps) * 1000,
        external: true,
        ...(r.cpuMs !== undefined ? { cpuMs: r.cpuMs } : {})
      }
    },
    close: () => Promise.resolve()
  })
}

export default contender
