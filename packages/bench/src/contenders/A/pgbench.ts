import type { Contender } from "../../Contender.js"
import { pgbench } from "../../internal/drive.js"

/** pgbench with `clients` connections running `script` for the phase (whole seconds, at least 1). */
export const runPgbench = async (
  url: string,
  script: string,
  durationMs: number,
  clients: number,
  opsPerTransaction: number,
  extra: ReadonlyArray<string> = []
) => {
  const seconds = Math.max(1, Math.round(durationMs / 1000))
  const args = ["-n", "-M", "prepared", "-c", String(clients), "-j", "2", "-T", String(seconds), ...extra]
  const r = await pgbench(url, script, args, seconds * 1000 + 60_000)
  if (r.failed > 0) throw new Error(`pgbench reported ${r.failed} failed transactions`)
  return {
    ops: r.transactions * opsPerTransaction,
    elapsedMs: (r.transactions / r.tps) * 1000,
    external: true,
    ...(r.cpuMs !== undefined ? { cpuMs: r.cpuMs } : {}),
    counters: r.retries > 0 ? { retries: r.retries } : {}
  }
}

const contender: Contender = {
  description: "server limit: pgbench -M prepared, 10 clients, one `select :v::int` per transaction",
  kind: "limit",
  open: async (ctx) => ({
    run: (phase) =>
      runPgbench(ctx.url, "\\set v 1\nselect :v::int as v;\n", phase.durationMs, ctx.params.connections, 1),
    close: () => Promise.resolve()
  })
}

export default contender
