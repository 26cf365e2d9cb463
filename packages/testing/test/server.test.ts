import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { createInterface } from "node:readline"
import pg from "pg"
import { afterEach, describe, expect, it } from "vitest"
import * as TestServer from "../src/TestServer.js"

interface Started {
  readonly url: string
  readonly port: number
  readonly source: string
  readonly socketDir: string
  readonly postmasterPid: number
  readonly uid: number
}

const fixture = path.join(import.meta.dirname, "fixtures", "start-server.ts")
const children: Array<ChildProcess> = []

/** Runs the fixture in a fresh process with no database URL in its environment. */
const startChild = (options: { uid?: number; gid?: number; args?: Array<string> } = {}) => {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && key !== "DATABASE_URL" && key !== "BERTH_TEST_DATABASE_URL") env[key] = value
  }
  if (options.uid !== undefined) env["HOME"] = "/tmp"
  const child = spawn(process.execPath, ["--import", "tsx", fixture, ...(options.args ?? [])], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
    ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid ?? options.uid } : {})
  })
  children.push(child)
  let stderr = ""
  child.stderr?.on("data", (chunk: Buffer) => void (stderr += chunk.toString()))
  const lines = createInterface({ input: child.stdout! })
  const next = () =>
    new Promise<string>((resolve, reject) => {
      lines.once("line", resolve)
      child.once("exit", (code) => reject(new Error(`fixture exited with ${code}: ${stderr}`)))
    })
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode)
    else child.once("exit", (code) => resolve(code))
  })
  return { child, next, exited, stderr: () => stderr }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

const eventually = async (check: () => boolean, timeoutMs: number): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (check()) return true
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return check()
}

const selectOne = async (url: string): Promise<number> => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<{ n: number }>("select 1 as n")).rows[0]!.n
  } finally {
    await client.end()
  }
}

afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL")
})

describe("the embedded server", () => {
  it("two concurrent runs get their own servers, and a crash (SIGKILL) leaves nothing behind", async () => {
    const a = startChild()
    const b = startChild()
    const [sa, sb] = (await Promise.all([a.next(), b.next()])).map((line) => JSON.parse(line) as Started)
    expect(sa!.source).toBe("embedded")
    expect(sa!.port).not.toBe(sb!.port)
    expect(sa!.socketDir).not.toBe(sb!.socketDir)
    expect(await Promise.all([selectOne(sa!.url), selectOne(sb!.url)])).toEqual([1, 1])
    // A crash: nothing in the process gets to run, so the watchdog must clean up.
    a.child.kill("SIGKILL")
    expect(await eventually(() => !alive(sa!.postmasterPid), 15_000)).toBe(true)
    expect(await eventually(() => !fs.existsSync(path.dirname(sa!.socketDir)), 15_000)).toBe(true)
    // The other run is untouched.
    expect(await selectOne(sb!.url)).toBe(1)
    b.child.kill("SIGINT")
    expect(await b.exited).not.toBeUndefined()
    expect(await eventually(() => !alive(sb!.postmasterPid), 15_000)).toBe(true)
    expect(await eventually(() => !fs.existsSync(path.dirname(sb!.socketDir)), 15_000)).toBe(true)
  })

  it("an orderly stop removes the server and its files at once", async () => {
    const run = startChild({ args: ["--stop"] })
    const started = JSON.parse(await run.next()) as Started
    expect(await run.next()).toBe("stopped")
    expect(alive(started.postmasterPid)).toBe(false)
    expect(fs.existsSync(path.dirname(started.socketDir))).toBe(false)
    expect(run.stderr()).toContain("started embedded PostgreSQL")
    expect(run.stderr()).toContain("stopped embedded PostgreSQL")
  })

  it("works for a normal (non-root) user too", async (context) => {
    if (process.getuid?.() !== 0) {
      // We are the normal user already: the rest of the suite is that proof.
      expect(process.getuid?.()).not.toBe(0)
      return context.skip()
    }
    const nobody = 65534
    const run = startChild({ uid: nobody, gid: nobody })
    const started = JSON.parse(await run.next()) as Started
    expect(started.uid).toBe(nobody)
    expect(await selectOne(started.url)).toBe(1)
    run.child.kill("SIGINT")
    await run.exited
    expect(await eventually(() => !alive(started.postmasterPid), 15_000)).toBe(true)
    expect(await eventually(() => !fs.existsSync(path.dirname(started.socketDir)), 15_000)).toBe(true)
  })
})

describe("an unreachable server", () => {
  it("fails with one paragraph naming the redacted URL, its variable and what was tried", async () => {
    const url = "postgres://alice:s3cret-pw@127.0.0.1:1/nowhere"
    const error = await TestServer.start({ env: { DATABASE_URL: url }, log: () => undefined }).then(
      () => undefined,
      (e: unknown) => e as Error
    )
    expect(error).toBeInstanceOf(Error)
    expect(error!.message).toContain("postgres://alice:***@127.0.0.1:1/nowhere")
    expect(error!.message).toContain("DATABASE_URL")
    expect(error!.message).toContain("ECONNREFUSED")
    expect(error!.message).toContain("5 s timeout")
    expect(error!.message).not.toContain("s3cret")
    expect(error!.message.split("\n")).toHaveLength(1)
  })

  it("prefers BERTH_TEST_DATABASE_URL over DATABASE_URL", async () => {
    const error = await TestServer.start({
      env: { BERTH_TEST_DATABASE_URL: "postgres://u@127.0.0.1:2/x", DATABASE_URL: "postgres://u@127.0.0.1:1/y" },
      log: () => undefined
    }).then(() => undefined, (e: unknown) => e as Error)
    expect(error!.message).toContain("127.0.0.1:2/x (from BERTH_TEST_DATABASE_URL)")
  })

  it("rejects a URL that is not a URL", async () => {
    const error = await TestServer.fromUrl("not a url password=hunter2", "DATABASE_URL").then(
      () => undefined,
      (e: unknown) => e as Error
    )
    expect(error!.message).toContain("not a valid postgres:// URL")
    expect(error!.message).not.toContain("hunter2")
  })
})
