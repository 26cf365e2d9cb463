import { defineConfig } from "vitest/config"

// Root options; the projects themselves are listed in vitest.workspace.ts. Under CI a JSON
// report is written too, so .ci/run can print one plain "N passed, N failed" summary line.
const jsonReport = process.env["BERTH_VITEST_JSON"]

export default defineConfig({
  test: {
    reporters: jsonReport ? ["default", ["json", { outputFile: jsonReport }]] : ["default"]
  }
})
