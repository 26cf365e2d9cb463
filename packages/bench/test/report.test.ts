import { describe, expect, it } from "@effect/vitest"
import * as path from "node:path"
import * as Cli from "../src/Cli.js"
import * as BerthCode from "../src/internal/berthCode.js"
import * as Report from "../src/Report.js"
import * as Workload from "../src/Workload.js"

const sample = (round: number, throughput: number): Report.Sample => ({
  round,
  ops: throughput,
  elapsedMs: 1000,
  throughput,
  cpuMs: 500,
  maxRssKb: 100 * 1024,
  counters: { retries: round }
})

describe("Report", () => {
  it("median of odd and even counts", () => {
    expect(Report.median([3, 1, 2])).toBe(2)
    expect(Report.median([4, 1, 3, 2])).toBe(2.5)
  })

  it("summarizes samples and computes ratios against the baseline", () => {
    const a = Report.summarize({ contender: "a", description: "A", kind: "client", status: "ok" }, [
      sample(1, 100),
      sample(2, 300),
      sample(3, 200)
    ])
    const b = Report.summarize({ contender: "b", description: "B", kind: "client", status: "ok" }, [sample(1, 50)])
    expect(a).toMatchObject({ median: 200, min: 100, max: 300, medianCpuMs: 500, peakRssMb: 100 })
    expect(a.counters).toEqual({ retries: 6 })
    expect(a.cpuUsPerOp).toBe(2500)
    const rows = Report.withRatios([a, b], "b")
    expect(rows.map((r) => r.ratio)).toEqual([4, 1])
  })

  it("an ok contender without samples is reported as failed; no baseline means no ratios", () => {
    const row = Report.summarize({ contender: "x", description: "X", kind: "limit", status: "ok" }, [])
    expect(row.status).toBe("failed")
    expect(Report.withRatios([row], "missing")).toEqual([row])
  })

  it("renders unavailable and measured rows with the same number of columns", () => {
    const table: Report.Table = {
      workload: "C",
      case: "default",
      title: "C: COPY",
      about: "",
      op: "row",
      measure: "rows",
      baseline: "a",
      notes: ["a note"],
      rows: Report.withRatios([
        Report.summarize({ contender: "a", description: "A", kind: "client", status: "ok" }, [sample(1, 10)]),
        Report.summarize(
          { contender: "u", description: "U", kind: "client", status: "unavailable", reason: "no COPY" },
          []
        )
      ], "a")
    }
    const lines = Report.tableMarkdown(table).split("\n").filter((l) => l.startsWith("|"))
    const columns = lines.map((l) => l.split("|").length)
    expect(new Set(columns).size).toBe(1)
    expect(lines[3]).toContain("unavailable")
    expect(lines[3]).toContain("no COPY")
  })
})

describe("BerthCode.mismatch", () => {
  it("accepts dist/ for built code and src/ for sources, and names the file otherwise", () => {
    const dist = path.join("/repo", "packages", "pg", "dist", "index.js")
    const src = path.join("/repo", "packages", "pg", "src", "index.ts")
    expect(BerthCode.mismatch("built", dist)).toBeUndefined()
    expect(BerthCode.mismatch("source", src)).toBeUndefined()
    expect(BerthCode.mismatch("built", src)).toContain(`resolves to ${src}`)
    expect(BerthCode.mismatch("source", dist)).toContain("expected Berth's source code")
    // a directory merely named like one does not count
    expect(BerthCode.mismatch("built", path.join("/distant", "pg", "src", "index.ts"))).toBeDefined()
  })
})

describe("Cli.parse", () => {
  it("parses workloads and options", () => {
    expect(
      Cli.parse(["a,C", "--quick", "--rounds", "2", "--duration", "1.5", "--contenders", "pg,raw", "--baseline", "raw"])
    )
      .toEqual({
        workloads: ["A", "C"],
        quick: true,
        rounds: 2,
        durationMs: 1500,
        contenders: ["pg", "raw"],
        baseline: "raw",
        json: undefined,
        markdown: undefined,
        installPeers: true,
        list: false,
        nodeFlags: [],
        source: false
      })
    expect(Cli.parse(["all", "--no-install"]).workloads).toEqual(["A", "B", "C", "D", "E", "F"])
    expect(Cli.parse(["--list"])).toMatchObject({ list: true, workloads: ["A", "B", "C", "D", "E", "F"] })
    expect(Cli.parse(["A", "--node-flags=--max-semi-space-size=32,--no-allocation-site-pretenuring"]).nodeFlags)
      .toEqual(["--max-semi-space-size=32", "--no-allocation-site-pretenuring"])
    expect(Cli.parse(["A", "--source"]).source).toBe(true)
  })

  it("rejects bad input with a message", () => {
    expect(() => Cli.parse([])).toThrow(/no workload/)
    expect(() => Cli.parse(["G"])).toThrow(/unknown workload "G"/)
    expect(() => Cli.parse(["A", "--rounds", "0"])).toThrow(/positive number/)
    expect(() => Cli.parse(["A", "--rounds"])).toThrow(/needs a value/)
    expect(() => Cli.parse(["A", "--frobnicate"])).toThrow(/unknown option/)
    expect(() => Cli.parse(["A", "B"])).toThrow(/twice/)
    expect(() => Cli.parse(["A", "--node-flags="])).toThrow(/at least one flag/)
    expect(() => Cli.parse(["A", "--node-flags=script.js"])).toThrow(/not a --flag/)
    expect(() => Cli.parse(["A", "--node-flags=--a b"])).toThrow(/not a --flag/)
  })
})

describe("Workload", () => {
  it("COPY text has one line per row and stable content", () => {
    const text = [...Workload.copyText(4500, 2000)].join("")
    expect(text.split("\n").length - 1).toBe(4500)
    expect(text.startsWith("1\tname-1\t0.01\t2026-01-01 00:00:01+00\tf\n")).toBe(true)
  })

  it("quick sizes are smaller than full sizes", () => {
    for (const w of Object.values(Workload.all)) {
      expect(w.quick.durationMs).toBeLessThanOrEqual(w.full.durationMs)
      expect(w.quick.params.rows).toBeLessThanOrEqual(w.full.params.rows)
    }
  })
})
