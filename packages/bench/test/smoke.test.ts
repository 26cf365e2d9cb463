import * as TestDatabase from "@berth/testing/TestDatabase"
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import { pgbenchPath } from "../src/internal/drive.js"
import * as Report from "../src/Report.js"
import * as Runner from "../src/Runner.js"

// Every workload with --quick sizes, for Berth (where it has a contender), the `pg` peer and
// the limits, so the harness, each workload's setup and invariant checks cannot rot.
const expected: Record<string, ReadonlyArray<string>> = {
  A: ["pg", "raw", "pgbench", "berth-pg", "berth-sql"],
  B: ["pg", "raw", "berth"],
  C: ["pg", "raw", "berth"],
  D: ["pg", "pgbench", "berth"],
  E: ["semaphore", "pg", "berth-pool"],
  F: ["pg", "raw", "berth-pg", "pgbench"]
}

describe("benchmark smoke run", () => {
  it(
    "runs every contender's process with --node-flags and the chosen Berth code, and lists both in the report",
    { timeout: 120_000 },
    async () => {
      const run = (nodeFlags: ReadonlyArray<string>) =>
        Runner.run({
          workloads: ["E"],
          quick: true,
          contenders: ["semaphore"],
          url: TestDatabase.current().server.url,
          installPeers: false,
          nodeFlags,
          log: () => {}
        })
      const tuned = await run(["--max-semi-space-size=32"])
      expect(tuned.header.nodeFlags).toEqual(["--max-semi-space-size=32"])
      expect(tuned.header.berth).toBe("built")
      expect(Report.markdown(tuned)).toContain("- Berth's code: built JavaScript")
      expect(tuned.tables.flatMap((t) => t.rows.map((r) => r.status))).toEqual(["ok", "ok"])
      expect(Report.markdown(tuned)).toContain("- node flags for every contender: `--max-semi-space-size=32`")
      // a flag Node rejects fails the contender: the flags reach its process
      const bad = await run(["--no-such-node-flag-berth"])
      expect(bad.tables.flatMap((t) => t.rows.map((r) => r.status))).toEqual(["failed", "failed"])
      // a child that resolves Berth's sources when built code was asked for fails instead of
      // reporting a measurement of other code
      const mixed = await run(["--conditions=source"])
      expect(mixed.tables.flatMap((t) => t.rows.map((r) => r.reason))).toEqual([
        expect.stringContaining("expected Berth's built code"),
        expect.stringContaining("expected Berth's built code")
      ])
      // --source: the children load Berth's TypeScript sources (each child checks what it resolved)
      const source = await Runner.run({
        workloads: ["E"],
        quick: true,
        contenders: ["semaphore"],
        url: TestDatabase.current().server.url,
        installPeers: false,
        berth: "source",
        log: () => {}
      })
      expect(source.header.berth).toBe("source")
      expect(source.tables.flatMap((t) => t.rows.map((r) => r.status))).toEqual(["ok", "ok"])
    }
  )

  it("runs every workload with --quick and reports every contender as measured", { timeout: 600_000 }, async () => {
    const lines: Array<string> = []
    const report = await Runner.run({
      workloads: ["A", "B", "C", "D", "E", "F"],
      quick: true,
      contenders: [...new Set(Object.values(expected).flat())],
      url: TestDatabase.current().server.url,
      installPeers: false,
      log: (line) => lines.push(line)
    })
    expect(report.tables.map((t) => `${t.workload}/${t.case}`)).toEqual([
      "A/default",
      "B/default",
      "C/default",
      "D/default",
      "E/uncontended",
      "E/contended",
      "F/default"
    ])
    for (const table of report.tables) {
      const names = table.rows.map((r) => r.contender)
      expect(new Set(names)).toEqual(new Set(expected[table.workload]))
      for (const row of table.rows) {
        const label = `${table.workload}/${table.case} ${row.contender}: ${row.reason ?? ""}`
        if (row.contender === "pgbench" && pgbenchPath() === undefined) {
          expect(row.status, label).toBe("unavailable")
          continue
        }
        expect(row.status, label).toBe("ok")
        expect(row.samples.length, label).toBe(1)
        expect(row.median, label).toBeGreaterThan(0)
        expect(row.medianCpuMs, label).toBeGreaterThan(0)
      }
      const baseline = table.rows.find((r) => r.contender === table.baseline)
      expect(baseline?.ratio).toBeCloseTo(1, 10)
    }
    // Workload D counts retries; B and C move exactly the rows asked for.
    const d = report.tables.find((t) => t.workload === "D")!
    expect(d.rows[0]?.counters).toHaveProperty("retries")
    for (const w of ["B", "C"]) {
      const t = report.tables.find((t) => t.workload === w)!
      for (const row of t.rows) expect(row.samples[0]?.ops).toBe(20_000)
    }
    expect(report.tables.find((t) => t.workload === "F")?.notes.join(" ")).toMatch(/Authentication the server asked/)
    const md = Report.markdown(report)
    expect(md).toContain("PostgreSQL")
    expect(md).toContain(`${os.cpus().length} cores`)
    expect(JSON.parse(Report.json(report)).tables).toHaveLength(7)
    // The scratch database is gone.
    const admin = new pg.Client({ connectionString: TestDatabase.current().url })
    await admin.connect()
    try {
      const left = await admin.query("select datname from pg_database where datname like $1", [
        `berth_bench_${process.pid}_%`
      ])
      expect(left.rows).toEqual([])
    } finally {
      await admin.end()
    }
  })

  it("reports an Effect 4 contender as unavailable when its peers are missing and may not be installed", async () => {
    const peersDir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-peers-"))
    try {
      const report = await Runner.run({
        workloads: ["A"],
        quick: true,
        contenders: ["effect4", "effect4-multiplex"],
        url: TestDatabase.current().server.url,
        peersDir,
        installPeers: false,
        log: () => {}
      })
      const rows = report.tables[0]!.rows
      expect(rows.map((r) => [r.contender, r.status])).toEqual([
        ["effect4", "unavailable"],
        ["effect4-multiplex", "unavailable"]
      ])
      expect(rows[0]!.reason).toContain(peersDir)
    } finally {
      fs.rmSync(peersDir, { recursive: true, force: true })
    }
  })
})
