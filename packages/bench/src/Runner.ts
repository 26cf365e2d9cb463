/**
 * The benchmark runner: resolves a server, prepares a scratch database, and runs every
 * selected contender of every selected workload in its own child process, alternating
 * contenders round by round.
 *
 * @since 0.1.0
 */
import * as TestDatabase from "@berth/testing/TestDatabase"
import * as TestServer from "@berth/testing/TestServer"
import { execFileSync, fork } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"
import type { Context, Phase, WorkloadId } from "./Contender.js"
import type { Message, Spec } from "./internal/child.js"
import * as Wire from "./internal/wire.js"
import * as Peers from "./Peers.js"
import * as Report from "./Report.js"
import * as Workload from "./Workload.js"

/**
 * What to run.
 *
 * @since 0.1.0
 */
export interface Options {
  readonly workloads: ReadonlyArray<WorkloadId>
  readonly quick?: boolean
  /** Measured rounds per contender (default 3, or 1 with `quick`). */
  readonly rounds?: number
  /** Overrides the measured duration of duration-based workloads (milliseconds). */
  readonly durationMs?: number
  /** Only these contenders (names of files in `src/contenders/<workload>/`). */
  readonly contenders?: ReadonlyArray<string>
  /** Compare against this contender instead of each workload's default baseline. */
  readonly baseline?: string
  /**
   * Node.js/V8 flags for every contender's process (default none), so runtime tuning such as
   * `--max-semi-space-size` is measured for all contenders alike.
   */
  readonly nodeFlags?: ReadonlyArray<string>
  /**
   * Which code of Berth's packages the contenders run (default `"built"`):
   *
   * - `"built"`: the JavaScript `tsc -b` emits into each package's `dist/`, as applications run
   *   it. The runner builds it first (incremental: a no-op when it is up to date).
   * - `"source"`: the TypeScript sources through tsx, with no build step. Faster to iterate on,
   *   but slower to run: tsx compiles with esbuild's `keepNames`, which adds a
   *   `Object.defineProperty` call to every closure a hot path creates, so Berth measures slower
   *   than it runs in an application.
   *
   * Peers always run the JavaScript they ship.
   */
  readonly berth?: "built" | "source"
  /** The server (default: `DATABASE_URL`, else an embedded PostgreSQL started for the run). */
  readonly url?: string
  /** Where the Effect 4 peers live (default `<repo>/.bench/peers` or `BERTH_BENCH_PEERS_DIR`). */
  readonly peersDir?: string
  /** Whether a missing Effect 4 install may be installed now (default true). */
  readonly installPeers?: boolean
  /** The command line shown in the report header. */
  readonly command?: string
  /** Progress lines (default: stderr). */
  readonly log?: (line: string) => void
  /** Aborting stops the run: the running child is killed and everything created is cleaned up. */
  readonly signal?: AbortSignal
}

/** This package's directory (`packages/bench`), from `src/` or `dist/`. */
const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const repoDir = path.resolve(packageDir, "..", "..")

/**
 * The contender names available for a workload (the files in `src/contenders/<workload>/`).
 *
 * @example
 * ```ts
 * import { Runner } from "@berth/bench"
 *
 * console.log(Runner.contenders("A"))
 * ```
 *
 * @since 0.1.0
 */
export const contenders = (workload: WorkloadId): ReadonlyArray<string> =>
  fs.readdirSync(path.join(packageDir, "src", "contenders", workload))
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
    .map((f) => f.slice(0, -3))
    .sort()

/** The checkout's commit, with `-dirty` when the work tree has changes (or "unknown"). */
const gitCommit = (): string => {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: repoDir, stdio: "pipe" }).toString()
      .trim()
    const dirty = execFileSync("git", ["status", "--porcelain"], { cwd: repoDir, stdio: "pipe" }).toString().trim()
    return dirty === "" ? head : `${head}-dirty`
  } catch {
    return "unknown"
  }
}

const childEntry = path.join(packageDir, "src", "internal", "child.ts")

/**
 * Builds Berth's packages (`tsc -b` of this package's sources and their references) so the
 * contenders run current code; `tsc -b` skips what is up to date.
 */
const buildBerth = (log: (line: string) => void): void => {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
  const project = path.join(packageDir, "tsconfig.src.json")
  log(`[bench] building Berth's packages: tsc -b ${path.relative(repoDir, project)}`)
  try {
    execFileSync(process.execPath, [tsc, "-b", project], { cwd: repoDir, stdio: "pipe" })
  } catch (cause) {
    const out = cause instanceof Error && "stdout" in cause ? String(cause.stdout) : String(cause)
    throw new Error(`building Berth's packages failed (run with --source to skip the build):\n${out.trim()}`)
  }
}

const runChild = (
  spec: Spec,
  nodeFlags: ReadonlyArray<string>,
  timeoutMs: number,
  signal: AbortSignal | undefined
): Promise<Message> =>
  new Promise((resolve) => {
    const child = fork(childEntry, [JSON.stringify(spec)], {
      cwd: packageDir,
      // without the `source` condition, `@berth/*` resolve to their built `dist/` (the child checks)
      execArgv: [...nodeFlags, ...(spec.berth === "source" ? ["--conditions=source"] : []), "--import", "tsx"],
      // The report goes to stdout: whatever a contender prints goes to stderr instead.
      stdio: ["ignore", "pipe", "pipe", "ipc"]
    })
    child.stdout?.on("data", (d: Buffer) => process.stderr.write(d))
    let message: Message | undefined
    const stderr: Array<string> = []
    child.stderr?.on("data", (d: Buffer) => {
      if (stderr.length < 200) stderr.push(d.toString())
    })
    const timer = setTimeout(() => {
      message = { _tag: "Failed", reason: `timed out after ${timeoutMs} ms`, description: "" }
      child.kill("SIGKILL")
    }, timeoutMs)
    const abort = () => {
      message = { _tag: "Failed", reason: "the run was interrupted", description: "" }
      child.kill("SIGKILL")
    }
    signal?.addEventListener("abort", abort)
    child.on("message", (m: Message) => {
      message ??= m
    })
    child.on("exit", (code, killedBy) => {
      clearTimeout(timer)
      signal?.removeEventListener("abort", abort)
      const tail = stderr.join("").trim().split("\n").slice(-5).join(" / ")
      resolve(message ?? { _tag: "Failed", reason: `exited with ${killedBy ?? code}: ${tail}`, description: "" })
    })
  })

interface Prepared {
  readonly context: Omit<Context, "workload" | "case" | "params">
  readonly version: string
  readonly settings: string
  readonly scramAuth: string
  readonly cleanup: () => Promise<void>
}

const withClient = async <A>(url: string, f: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}

const prepare = async (
  server: TestServer.ServerInfo,
  options: Options,
  log: (line: string) => void
): Promise<Prepared> => {
  const db = await TestDatabase.create(server, "berth_bench")
  const role = `berth_bench_scram_${crypto.randomBytes(4).toString("hex")}`
  const password = crypto.randomBytes(12).toString("hex")
  const cleanup = async () => {
    await db.drop().catch((e: unknown) => log(`[bench] could not drop ${db.database}: ${String(e)}`))
    await withClient(server.url, (c) => c.query(`drop role if exists ${role}`)).catch((e: unknown) =>
      log(`[bench] could not drop role ${role}: ${String(e)}`)
    )
  }
  try {
    const { settings, version } = await withClient(db.url, async (client) => {
      if (options.workloads.includes("F")) {
        await client.query("set password_encryption = 'scram-sha-256'")
        await client.query(`create role ${role} login password '${password}'`).catch((cause: unknown) => {
          throw new Error(
            `workload F needs a role with a SCRAM password, and creating one failed (the URL's role ` +
              `needs CREATEROLE): ${cause instanceof Error ? cause.message : String(cause)}`
          )
        })
      }
      for (const id of options.workloads) {
        const w = Workload.all[id]
        await w.prepare(client, (options.quick ? w.quick : w.full).params)
      }
      const v = await client.query<{ v: string }>("select current_setting('server_version') as v")
      const s = await client.query<{ name: string; setting: string }>(
        `select name, current_setting(name) as setting from pg_settings where name = any($1) order by name`,
        [["fsync", "synchronous_commit", "shared_buffers", "max_connections", "password_encryption"]]
      )
      return {
        version: v.rows[0]?.v ?? "unknown",
        settings: s.rows.map((r) => `${r.name}=${r.setting}`).join(", ")
      }
    })
    const scramUrl = new URL(db.url)
    scramUrl.username = role
    scramUrl.password = password
    const scramAuth = !options.workloads.includes("F") ? "not checked" : await Wire.connect(
      Wire.optionsFromUrl(scramUrl.toString())
    ).then(
      async (conn) => {
        await conn.close()
        return conn.auth
      },
      (e: unknown) => `failed: ${String(e)}`
    )
    return {
      version,
      settings,
      scramAuth,
      cleanup,
      context: {
        url: db.url,
        scramUrl: scramUrl.toString(),
        host: db.host,
        port: db.port,
        user: db.user,
        password: db.password,
        database: db.database,
        peersDir: options.peersDir ?? process.env["BERTH_BENCH_PEERS_DIR"] ?? path.join(repoDir, ".bench", "peers"),
        packageDir
      }
    }
  } catch (cause) {
    await cleanup()
    throw cause
  }
}

const phases = (w: Workload.Workload, size: Workload.Size, options: Options) => {
  const durationMs = options.durationMs ?? size.durationMs
  const measure: Phase = { kind: "measure", durationMs, rows: size.params.rows }
  const warmup: Phase | undefined = w.measure === "rows"
    ? { kind: "warmup", durationMs: 0, rows: size.params.warmupRows }
    : size.warmupMs > 0
    ? { kind: "warmup", durationMs: size.warmupMs, rows: 0 }
    : undefined
  return { measure, warmup, timeoutMs: 60_000 + 10 * (durationMs + size.warmupMs) }
}

type Outcome = {
  status: "ok" | "unavailable" | "failed" | "skipped"
  reason?: string
  description: string
  kind: Report.Row["kind"]
}

/**
 * Runs the benchmarks and returns the report. Cleans up everything it created (scratch
 * database, SCRAM role, embedded server) even when a contender fails.
 *
 * @example
 * ```ts
 * import { Report, Runner } from "@berth/bench"
 *
 * const report = await Runner.run({ workloads: ["A"], quick: true, contenders: ["pg", "raw"] })
 * console.log(Report.markdown(report))
 * ```
 *
 * @since 0.1.0
 */
export const run = async (options: Options): Promise<Report.Report> => {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`))
  const quick = options.quick ?? false
  const rounds = options.rounds ?? (quick ? 1 : 3)
  const nodeFlags = options.nodeFlags ?? []
  const berth = options.berth ?? "built"
  if (berth === "built") buildBerth(log)
  const url = options.url ?? process.env["DATABASE_URL"]
  const server = url !== undefined && url !== ""
    ? await TestServer.fromUrl(url, "DATABASE_URL")
    : await TestServer.start({ env: {}, log })
  const loadAverage = os.loadavg()
  try {
    const prepared = await prepare(server, options, log)
    try {
      let peers: Peers.Status | undefined
      const tables: Array<Report.Table> = []
      for (const id of options.workloads) {
        const w = Workload.all[id]
        const size = quick ? w.quick : w.full
        const baseline = options.baseline ?? w.baseline
        const names = contenders(id).filter((n) => options.contenders === undefined || options.contenders.includes(n))
        names.sort((a, b) => (a === baseline ? -1 : b === baseline ? 1 : a.localeCompare(b)))
        if (names.some((n) => n.startsWith("effect4")) && peers === undefined) {
          peers = await Peers.ensure(prepared.context.peersDir, { install: options.installPeers ?? true, log })
        }
        const { measure, timeoutMs, warmup } = phases(w, size, options)
        for (const c of w.cases) {
          const context: Context = {
            ...prepared.context,
            workload: id,
            case: c.name,
            params: { ...size.params, ...c.params }
          }
          const outcomes = new Map<string, Outcome>()
          const samples = new Map<string, Array<Report.Sample>>(names.map((n) => [n, []]))
          for (const n of names) {
            if (n.startsWith("effect4") && peers?._tag === "Missing") {
              outcomes.set(n, { status: "unavailable", reason: peers.reason, description: n, kind: "client" })
            }
          }
          for (let round = 1; round <= rounds; round++) {
            for (const n of names) {
              const previous = outcomes.get(n)?.status
              if (previous === "unavailable" || previous === "failed" || previous === "skipped") continue
              if (options.signal?.aborted) throw new Error("the benchmark run was interrupted")
              log(`[bench] ${id}${c.name === "default" ? "" : `/${c.name}`} round ${round}/${rounds}: ${n}`)
              const file = path.join(packageDir, "src", "contenders", id, `${n}.ts`)
              const m = await runChild({ file, context, warmup, measure, berth }, nodeFlags, timeoutMs, options.signal)
              if (m._tag === "Result") {
                outcomes.set(n, { status: "ok", description: m.description, kind: m.kind })
                samples.get(n)!.push({
                  round,
                  ops: m.ops,
                  elapsedMs: m.elapsedMs,
                  throughput: m.elapsedMs > 0 ? (m.ops * 1000) / m.elapsedMs : 0,
                  cpuMs: m.cpuMs,
                  maxRssKb: m.maxRssKb,
                  counters: m.counters
                })
              } else if (m._tag === "Skipped") {
                outcomes.set(n, { status: "skipped", description: m.description, kind: "unknown" })
              } else {
                const status = m._tag === "Unavailable" ? "unavailable" : "failed"
                log(`[bench]   ${n} ${status}: ${m.reason}`)
                outcomes.set(n, {
                  status,
                  reason: m.reason,
                  description: m.description || n,
                  kind: m.kind ?? "unknown"
                })
              }
            }
          }
          const rows = names
            .flatMap((n) => {
              const o = outcomes.get(n) ?? { status: "failed" as const, description: n, kind: "unknown" as const }
              if (o.status === "skipped") return []
              return [Report.summarize({
                contender: n,
                description: o.description,
                kind: o.kind,
                status: o.status,
                ...(o.reason !== undefined ? { reason: o.reason } : {})
              }, samples.get(n) ?? [])]
            })
          tables.push({
            workload: id,
            case: c.name,
            title: w.title,
            about: w.about,
            op: w.op,
            measure: w.measure,
            baseline,
            rows: Report.withRatios(rows, baseline),
            notes: id === "F" ? [`Authentication the server asked for: ${prepared.scramAuth}.`] : []
          })
        }
      }
      return {
        header: {
          date: new Date().toISOString(),
          command: options.command ?? `bench ${options.workloads.join(",")}`,
          server: { version: prepared.version, source: server.source, settings: prepared.settings },
          commit: gitCommit(),
          machine: {
            cores: os.cpus().length,
            cpuModel: os.cpus()[0]?.model.trim() ?? "unknown",
            memoryGb: os.totalmem() / 1024 ** 3,
            node: process.version,
            os: `${os.type()} ${os.release()}`,
            loadAverage
          },
          quick,
          rounds,
          nodeFlags,
          berth
        },
        tables
      }
    } finally {
      await prepared.cleanup()
    }
  } finally {
    await server.stop()
  }
}
