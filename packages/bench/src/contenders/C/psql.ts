import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Contender } from "../../Contender.js"
import { Unavailable } from "../../Contender.js"
import { checker, payloads } from "../../internal/copy.js"
import { pgbenchPath, runTool } from "../../internal/drive.js"
import { copyTable } from "../../Workload.js"

/** psql next to pgbench (same PostgreSQL client tools). */
const psqlPath = (): string | undefined => {
  const pgbench = pgbenchPath()
  const psql = pgbench === undefined ? undefined : path.join(path.dirname(pgbench), "psql")
  return psql !== undefined && fs.existsSync(psql) ? psql : undefined
}

const contender: Contender = {
  description: "server limit: psql \\copy from a file written before the timer starts (libpq, C)",
  kind: "limit",
  unavailable: () => Promise.resolve(psqlPath() === undefined ? "psql not found next to pgbench" : undefined),
  open: async (ctx) => {
    const psql = psqlPath()
    if (psql === undefined) throw new Unavailable("psql not found")
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-copy-"))
    const files = new Map<number, string>()
    for (const [n, chunks] of payloads(ctx)) {
      const file = path.join(dir, `${n}.txt`)
      fs.writeFileSync(file, Buffer.concat(chunks))
      files.set(n, file)
    }
    const check = await checker(ctx)
    return {
      reset: check.reset,
      run: async (phase) => {
        const file = files.get(phase.rows)!
        const { cpuMs, out } = await runTool(
          psql,
          ["-X", "-v", "ON_ERROR_STOP=1", "-c", `\\copy ${copyTable} from '${file}'`],
          ctx.url,
          600_000
        )
        if (!out.includes(`COPY ${phase.rows}`)) throw new Error(`psql did not report COPY ${phase.rows}: ${out}`)
        return { ops: phase.rows, external: true, ...(cpuMs !== undefined ? { cpuMs } : {}) }
      },
      close: async () => {
        fs.rmSync(dir, { recursive: true, force: true })
        await check.close()
      }
    }
  }
}

export default contender
