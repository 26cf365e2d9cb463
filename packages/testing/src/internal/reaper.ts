import { spawn } from "node:child_process"

/**
 * The watchdog that removes an embedded server when the process that started it dies
 * without cleaning up (SIGKILL, a crash, a Ctrl-C that skipped teardown). It runs as a
 * detached process so it outlives its parent, polls the parent's PID, and when the parent
 * is gone stops the postmaster (SIGQUIT, then SIGKILL) and deletes the temporary directory.
 * It is plain JavaScript passed with `-e`, so it needs no build step and no file on disk.
 */
const reaperSource = String.raw`
const fs = require("node:fs")
const [parentPid, rootDir, dataDir] = process.argv.slice(1)
const alive = (pid) => { try { process.kill(pid, 0); return true } catch (e) { return e.code === "EPERM" } }
const postmasterPid = () => {
  try { return Number(fs.readFileSync(dataDir + "/postmaster.pid", "utf8").split("\n")[0]) } catch { return 0 }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const cleanup = async () => {
  const pid = postmasterPid()
  if (pid > 0 && alive(pid)) {
    try { process.kill(pid, "SIGQUIT") } catch {}
    for (let i = 0; i < 50 && alive(pid); i++) await sleep(100)
    if (alive(pid)) { try { process.kill(pid, "SIGKILL") } catch {} }
    for (let i = 0; i < 50 && alive(pid); i++) await sleep(100)
  }
  fs.rmSync(rootDir, { recursive: true, force: true })
  process.exit(0)
}
const tick = () => {
  if (!fs.existsSync(rootDir)) process.exit(0)
  if (!alive(Number(parentPid))) return cleanup()
  setTimeout(tick, 200)
}
process.on("SIGTERM", () => process.exit(0))
tick()
`

/** Starts the watchdog for `rootDir`; returns a function that dismisses it. */
export const startReaper = (rootDir: string, dataDir: string): () => void => {
  const child = spawn(process.execPath, ["-e", reaperSource, String(process.pid), rootDir, dataDir], {
    detached: true,
    stdio: "ignore"
  })
  child.unref()
  return () => {
    try {
      child.kill("SIGTERM")
    } catch {
      // already gone
    }
  }
}
