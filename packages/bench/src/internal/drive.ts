/**
 * Loops shared by the Promise-based contenders.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Unavailable } from "../Contender.js"

/** Runs `op` from `concurrency` tasks until `durationMs` has passed; returns how many completed. */
export const forDuration = async (
  concurrency: number,
  durationMs: number,
  op: (task: number) => Promise<unknown>
): Promise<number> => {
  const deadline = Date.now() + durationMs
  let ops = 0
  await Promise.all(Array.from({ length: concurrency }, async (_, task) => {
    while (Date.now() < deadline) {
      await op(task)
      ops++
    }
  }))
  return ops
}

/** `true` for PostgreSQL's serialization failure and deadlock SQLSTATEs, searched through causes. */
export const isRetryable = (error: unknown): boolean => {
  let current: unknown = error
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    if (code === "40001" || code === "40P01") return true
    const tag = (current as { _tag?: unknown })._tag
    if (typeof tag === "string" && /Serialization|Deadlock/.test(tag)) return true
    const reason = (current as { reason?: unknown }).reason
    current = typeof reason === "object" && reason !== null ? reason : (current as { cause?: unknown }).cause
  }
  return false
}

/** The pgbench binary: `PGBENCH`, PostgreSQL 15's on Debian, or the one on PATH. */
export const pgbenchPath = (): string | undefined => {
  const candidates = [
    process.env["PGBENCH"],
    "/usr/lib/postgresql/17/bin/pgbench",
    "/usr/lib/postgresql/16/bin/pgbench",
    "/usr/lib/postgresql/15/bin/pgbench",
    ...(process.env["PATH"] ?? "").split(":").map((dir) => path.join(dir, "pgbench"))
  ]
  return candidates.find((c): c is string => c !== undefined && c !== "" && fs.existsSync(c))
}

/** Environment variables that point libpq tools at `url`. */
export const libpqEnv = (url: string): Record<string, string> => {
  const u = new URL(url)
  return {
    PGHOST: u.hostname,
    PGPORT: u.port === "" ? "5432" : u.port,
    PGUSER: decodeURIComponent(u.username),
    PGPASSWORD: decodeURIComponent(u.password),
    PGDATABASE: decodeURIComponent(u.pathname.slice(1))
  }
}

/**
 * Runs a tool and returns its exit code, output, and CPU time read from bash's `times` (the
 * children's user+system time), because the tool runs in a grandchild the runner cannot see.
 */
export const runTool = async (
  bin: string,
  args: ReadonlyArray<string>,
  url: string,
  timeoutMs: number
): Promise<{ readonly out: string; readonly cpuMs: number | undefined }> => {
  const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
    const child = spawn("bash", ["-c", `"$0" "$@"; rc=$?; times; exit $rc`, bin, ...args], {
      env: { ...process.env, ...libpqEnv(url) },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    child.stdout.on("data", (d: Buffer) => (out += d.toString()))
    child.stderr.on("data", (d: Buffer) => (out += d.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.on("error", reject)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, out })
    })
  })
  const name = path.basename(bin)
  if (code !== 0) throw new Error(`${name} exited with ${code}: ${out.trim().split("\n").slice(-4).join(" / ")}`)
  // `times` prints the shell's own times, then its children's: "0m1.234s 0m0.567s".
  const times = [...out.matchAll(/^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/gm)].at(-1)
  const cpuMs = times === undefined
    ? undefined
    : (Number(times[1]) * 60 + Number(times[2]) + Number(times[3]) * 60 + Number(times[4])) * 1000
  return { out, cpuMs }
}

/** What pgbench printed that a contender reports. */
export interface PgbenchResult {
  readonly transactions: number
  readonly tps: number
  readonly retries: number
  readonly failed: number
  readonly cpuMs: number | undefined
  readonly output: string
}

/** Runs pgbench with `script` (written to a temporary file) and the connection of `url`. */
export const pgbench = async (
  url: string,
  script: string,
  args: ReadonlyArray<string>,
  timeoutMs: number
): Promise<PgbenchResult> => {
  const bin = pgbenchPath()
  if (bin === undefined) throw new Unavailable("pgbench not found (set PGBENCH or install postgresql-client tools)")
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-pgbench-"))
  const file = path.join(dir, "script.sql")
  fs.writeFileSync(file, script)
  try {
    const { cpuMs, out } = await runTool(bin, [...args, "-f", file], url, timeoutMs)
    const num = (re: RegExp): number | undefined => {
      const m = re.exec(out)
      return m === null ? undefined : Number(m[1])
    }
    const transactions = num(/number of transactions actually processed: (\d+)/)
    const tps = num(/tps = ([\d.]+)/)
    if (transactions === undefined || tps === undefined) throw new Error(`unexpected pgbench output: ${out}`)
    return {
      transactions,
      tps,
      retries: num(/total number of retries: (\d+)/) ?? 0,
      failed: num(/number of failed transactions: (\d+)/) ?? 0,
      cpuMs,
      output: out
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** Throws unless a streaming/copy phase moved exactly the rows it was asked to. */
export const expectRows = (got: number, expected: number): number => {
  if (got !== expected) throw new Error(`expected ${expected} rows, got ${got}`)
  return got
}
