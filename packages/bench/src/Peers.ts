/**
 * The isolated install of Effect 4 and `@effect/sql-pg` 4.x used by the `effect4*`
 * contenders. It lives outside the workspace (default `<repo>/.bench/peers`, git-ignored) so
 * Effect 4 never enters the workspace's `node_modules` or lockfile.
 *
 * @since 0.1.0
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

/**
 * The exact versions installed (pinned so runs are comparable).
 *
 * @since 0.1.0
 */
export const versions = { effect: "4.1.0", "@effect/sql-pg": "4.0.5" } as const

/**
 * The outcome of {@link ensure}.
 *
 * @since 0.1.0
 */
export type Status =
  | { readonly _tag: "Ready"; readonly dir: string }
  | { readonly _tag: "Missing"; readonly dir: string; readonly reason: string }

const installed = (dir: string): boolean => {
  for (const [name, version] of Object.entries(versions)) {
    const manifest = path.join(dir, "node_modules", name, "package.json")
    if (!fs.existsSync(manifest)) return false
    if ((JSON.parse(fs.readFileSync(manifest, "utf8")) as { version?: string }).version !== version) return false
  }
  return true
}

// Variables an `npm run --workspace` parent sets; inherited, they would point npm at the workspace.
const leakyNpmVariable =
  /^npm_(config_(workspaces?|include_workspace_root|prefix|global|location)|package_|lifecycle_)/i

/**
 * Makes sure the peers are installed in `dir`, installing them with npm when `install` is true.
 * Never throws: a failed install is a `Missing` status whose reason the report shows.
 *
 * @example
 * ```ts
 * import { Peers } from "@berth/bench"
 *
 * const status = await Peers.ensure("/tmp/peers", { install: false, log: console.log })
 * ```
 *
 * @since 0.1.0
 */
export const ensure = async (
  dir: string,
  options: { readonly install: boolean; readonly log: (line: string) => void; readonly timeoutMs?: number }
): Promise<Status> => {
  if (installed(dir)) return { _tag: "Ready", dir }
  if (!options.install) {
    return { _tag: "Missing", dir, reason: `Effect 4 peers are not installed in ${dir} (installation disabled)` }
  }
  try {
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(
      path.join(dir, "package.json"),
      JSON.stringify({ name: "berth-bench-peers", private: true, type: "module", dependencies: versions }, null, 2)
    )
    options.log(`[bench] installing ${Object.entries(versions).map(([n, v]) => `${n}@${v}`).join(", ")} into ${dir}`)
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !leakyNpmVariable.test(k)))
    const output: Array<string> = []
    const code = await new Promise<number | string>((resolve) => {
      const child = spawn("npm", ["install", "--no-audit", "--no-fund", "--workspaces=false", "--loglevel=error"], {
        cwd: dir,
        env,
        stdio: ["ignore", "pipe", "pipe"]
      })
      const timer = setTimeout(() => {
        child.kill("SIGKILL")
        resolve("timed out")
      }, options.timeoutMs ?? 300_000)
      child.stdout.on("data", (d: Buffer) => output.push(d.toString()))
      child.stderr.on("data", (d: Buffer) => output.push(d.toString()))
      child.on("error", (error) => {
        clearTimeout(timer)
        resolve(error.message)
      })
      child.on("close", (exit) => {
        clearTimeout(timer)
        resolve(exit ?? "killed")
      })
    })
    if (code === 0 && installed(dir)) return { _tag: "Ready", dir }
    const tail = output.join("").trim().split("\n").filter((l) => !l.includes("Unknown user config")).slice(-3)
    return { _tag: "Missing", dir, reason: `npm install in ${dir} failed (${code}): ${tail.join(" / ")}` }
  } catch (cause) {
    return { _tag: "Missing", dir, reason: `could not install Effect 4 peers in ${dir}: ${String(cause)}` }
  }
}
