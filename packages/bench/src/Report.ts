/**
 * The result of a benchmark run and its Markdown and JSON renderings.
 *
 * @since 0.1.0
 */
import type { Kind, WorkloadId } from "./Contender.js"

/**
 * One measured round of one contender.
 *
 * @since 0.1.0
 */
export interface Sample {
  readonly round: number
  readonly ops: number
  readonly elapsedMs: number
  /** ops per second. */
  readonly throughput: number
  /** User + system CPU time of the contender's process during the measured phase. */
  readonly cpuMs: number
  /** Peak resident set size of the contender's process (KiB), or `undefined` if unknown. */
  readonly maxRssKb: number | undefined
  readonly counters: Readonly<Record<string, number>>
}

/**
 * A contender's line in a table.
 *
 * @since 0.1.0
 */
export interface Row {
  readonly contender: string
  readonly description: string
  readonly kind: Kind | "unknown"
  readonly status: "ok" | "unavailable" | "failed"
  /** Why it is unavailable or failed. */
  readonly reason?: string
  readonly samples: ReadonlyArray<Sample>
  readonly median?: number
  readonly min?: number
  readonly max?: number
  readonly medianElapsedMs?: number
  readonly medianCpuMs?: number
  /** Median CPU microseconds per op. */
  readonly cpuUsPerOp?: number
  readonly peakRssMb?: number
  /** Median throughput divided by the baseline's median throughput. */
  readonly ratio?: number
  /** Counters summed over the measured rounds. */
  readonly counters?: Readonly<Record<string, number>>
}

/**
 * One workload case: a table.
 *
 * @since 0.1.0
 */
export interface Table {
  readonly workload: WorkloadId
  readonly case: string
  readonly title: string
  readonly about: string
  readonly op: string
  readonly measure: "duration" | "rows"
  readonly baseline: string
  readonly rows: ReadonlyArray<Row>
  readonly notes: ReadonlyArray<string>
}

/**
 * Where and how the run happened.
 *
 * @since 0.1.0
 */
export interface Header {
  readonly date: string
  readonly command: string
  readonly server: { readonly version: string; readonly source: string; readonly settings: string }
  /** The git commit of the checkout (`-dirty` if it had uncommitted changes). */
  readonly commit: string
  readonly machine: {
    readonly cores: number
    readonly cpuModel: string
    readonly memoryGb: number
    readonly node: string
    readonly os: string
    readonly loadAverage: ReadonlyArray<number>
  }
  readonly quick: boolean
  readonly rounds: number
  /** Node.js/V8 flags every contender ran with (none by default). */
  readonly nodeFlags?: ReadonlyArray<string>
  /** Which code of Berth's packages ran: built JavaScript, or TypeScript sources through tsx. */
  readonly berth?: "built" | "source"
}

/**
 * A whole run.
 *
 * @since 0.1.0
 */
export interface Report {
  readonly header: Header
  readonly tables: ReadonlyArray<Table>
}

/**
 * The median of a non-empty list (mean of the middle two for an even count).
 *
 * @example
 * ```ts
 * import { Report } from "@berth/bench"
 *
 * Report.median([3, 1, 2]) // 2
 * ```
 *
 * @since 0.1.0
 */
export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * Builds a row from a contender's samples (or its status).
 *
 * @example
 * ```ts
 * import { Report } from "@berth/bench"
 *
 * const row = Report.summarize({ contender: "pg", description: "pg Pool", kind: "client", status: "ok" }, [])
 * ```
 *
 * @since 0.1.0
 */
export const summarize = (
  head: Pick<Row, "contender" | "description" | "kind" | "status"> & { readonly reason?: string },
  samples: ReadonlyArray<Sample>
): Row => {
  if (head.status !== "ok" || samples.length === 0) {
    return { ...head, status: head.status === "ok" ? "failed" : head.status, samples }
  }
  const throughput = samples.map((s) => s.throughput)
  const rss = samples.map((s) => s.maxRssKb).filter((v): v is number => v !== undefined)
  const counters: Record<string, number> = {}
  for (const s of samples) {
    for (const [k, v] of Object.entries(s.counters)) counters[k] = (counters[k] ?? 0) + v
  }
  return {
    ...head,
    samples,
    median: median(throughput),
    min: Math.min(...throughput),
    max: Math.max(...throughput),
    medianElapsedMs: median(samples.map((s) => s.elapsedMs)),
    medianCpuMs: median(samples.map((s) => s.cpuMs)),
    cpuUsPerOp: median(samples.map((s) => s.ops > 0 ? (s.cpuMs * 1000) / s.ops : Number.NaN)),
    ...(rss.length > 0 ? { peakRssMb: Math.max(...rss) / 1024 } : {}),
    counters
  }
}

/**
 * Adds each row's ratio against the baseline row (when the baseline ran).
 *
 * @example
 * ```ts
 * import { Report } from "@berth/bench"
 *
 * const rows = Report.withRatios([], "pg")
 * ```
 *
 * @since 0.1.0
 */
export const withRatios = (rows: ReadonlyArray<Row>, baseline: string): ReadonlyArray<Row> => {
  const base = rows.find((r) => r.contender === baseline)?.median
  if (base === undefined || base === 0) return rows
  return rows.map((r) => (r.median === undefined ? r : { ...r, ratio: r.median / base }))
}

const fmt = (n: number | undefined, digits = 0): string => {
  if (n === undefined || Number.isNaN(n)) return "–"
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString("en-US")
  return n.toFixed(digits)
}

const sig = (n: number | undefined): string => {
  if (n === undefined || Number.isNaN(n)) return "–"
  if (n >= 100) return n.toFixed(0)
  if (n >= 10) return n.toFixed(1)
  return n.toFixed(2)
}

const counterText = (counters: Readonly<Record<string, number>> | undefined): string =>
  counters === undefined ? "" : Object.entries(counters).map(([k, v]) => `${k} ${fmt(v)}`).join(", ")

/**
 * Renders one table as Markdown.
 *
 * @example
 * ```ts
 * import { Report } from "@berth/bench"
 *
 * declare const report: Report.Report
 * report.tables.map(Report.tableMarkdown).join("\n")
 * ```
 *
 * @since 0.1.0
 */
export const tableMarkdown = (table: Table): string => {
  const rowsMode = table.measure === "rows"
  const head = [
    "contender",
    "kind",
    `${table.op}/s median`,
    "min",
    "max",
    `× ${table.baseline}`,
    ...(rowsMode ? ["time s"] : []),
    "CPU s",
    `CPU µs/${table.op.split(" ").at(-1)}`,
    "peak RSS MB",
    "notes"
  ]
  const lines = [
    `### ${table.title}${table.case === "default" ? "" : ` (${table.case})`}`,
    "",
    `| ${head.join(" | ")} |`,
    `| ${head.map((_, i) => (i < 2 || i === head.length - 1 ? "---" : "---:")).join(" | ")} |`
  ]
  for (const r of table.rows) {
    const name = `${r.contender}<br><sub>${r.description}</sub>`
    if (r.status !== "ok") {
      const blanks = head.length - 3
      lines.push(`| ${name} | ${r.kind} | ${r.status} |${" |".repeat(blanks - 1)} ${r.reason ?? ""} |`)
      continue
    }
    lines.push(
      `| ${
        [
          name,
          r.kind,
          fmt(r.median),
          fmt(r.min),
          fmt(r.max),
          r.ratio === undefined ? "–" : `${r.ratio.toFixed(2)}×`,
          ...(rowsMode ? [sig((r.medianElapsedMs ?? Number.NaN) / 1000)] : []),
          sig((r.medianCpuMs ?? Number.NaN) / 1000),
          sig(r.cpuUsPerOp),
          sig(r.peakRssMb),
          counterText(r.counters)
        ].join(" | ")
      } |`
    )
  }
  for (const note of table.notes) lines.push("", note)
  return lines.join("\n")
}

/**
 * Renders the whole report as Markdown: a header with server and machine, then one table per
 * workload case.
 *
 * @example
 * ```ts
 * import { Report } from "@berth/bench"
 *
 * declare const report: Report.Report
 * console.log(Report.markdown(report))
 * ```
 *
 * @since 0.1.0
 */
export const markdown = (report: Report): string => {
  const h = report.header
  const m = h.machine
  return [
    `## Berth benchmarks — ${h.date}`,
    "",
    `- command: \`${h.command}\``,
    `- commit: ${h.commit}`,
    `- server: PostgreSQL ${h.server.version} (${h.server.source}; ${h.server.settings})`,
    `- machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGb.toFixed(0)} GB, ${m.os}, Node ${m.node}, ` +
    `load average at start ${m.loadAverage.map((l) => l.toFixed(2)).join(" ")}`,
    `- rounds: ${h.rounds} measured round(s) per contender, alternating, each in a fresh process after an ` +
    `in-process warm-up${h.quick ? " (--quick: smoke sizes, numbers are not meaningful)" : ""}`,
    `- node flags for every contender: ${
      h.nodeFlags !== undefined && h.nodeFlags.length > 0 ? h.nodeFlags.map((f) => `\`${f}\``).join(" ") : "none"
    }`,
    `- Berth's code: ${
      h.berth === "source"
        ? "TypeScript sources through tsx (`--source`; tsx's keepNames makes Berth's hot paths slower than built code)"
        : "built JavaScript (`tsc -b`, each package's `dist/`), as applications run it"
    }`,
    "",
    ...report.tables.flatMap((t) => [tableMarkdown(t), ""])
  ].join("\n")
}

/**
 * The report as JSON (every sample included).
 *
 * @example
 * ```ts
 * import { Report } from "@berth/bench"
 *
 * declare const report: Report.Report
 * const text = Report.json(report)
 * ```
 *
 * @since 0.1.0
 */
export const json = (report: Report): string => JSON.stringify(report, null, 2)
