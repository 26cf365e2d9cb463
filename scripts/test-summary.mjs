// Prints vitest JSON reports as plain summary lines, one per report and a total last:
// "<label>: N passed, N failed, N skipped". Usage: test-summary.mjs label=file [label=file ...]
import * as fs from "node:fs"

const total = { passed: 0, failed: 0, skipped: 0 }
for (const arg of process.argv.slice(2)) {
  const [label, file] = arg.split("=")
  if (!file || !fs.existsSync(file)) {
    console.log(`${label}: no report at ${file}`)
    total.failed++
    continue
  }
  const report = JSON.parse(fs.readFileSync(file, "utf8"))
  const counts = {
    passed: report.numPassedTests,
    failed: report.numFailedTests + (report.numFailedTestSuites ?? 0),
    skipped: report.numPendingTests + report.numTodoTests
  }
  for (const key of Object.keys(total)) total[key] += counts[key]
  console.log(`${label}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`)
}
console.log(`total: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`)
// a failed or missing report fails CI even if a test runner's exit code was lost
if (total.failed > 0) process.exitCode = 1
