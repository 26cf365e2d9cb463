import { Cli } from "@berth/migrate"
import * as TestDatabase from "@berth/testing/TestDatabase"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { type Console, Effect } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { query, SqlLive } from "./helpers.js"

interface Captured {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs the CLI's Effect program in this process, capturing what it prints. */
const cli = (...args: Array<string>): Effect.Effect<Captured> =>
  Effect.gen(function*() {
    const out: Array<string> = []
    const err: Array<string> = []
    const base = yield* Effect.console
    const capture: Console.Console = {
      ...base,
      log: (...parts) => Effect.sync(() => void out.push(parts.map(String).join(" "))),
      error: (...parts) => Effect.sync(() => void err.push(parts.map(String).join(" "))),
      unsafe: {
        ...base.unsafe,
        log: (...parts: Array<unknown>) => void out.push(parts.map(String).join(" ")),
        error: (...parts: Array<unknown>) => void err.push(parts.map(String).join(" "))
      }
    }
    const code = yield* Cli.run(args).pipe(Effect.withConsole(capture), Effect.provide(NodeContext.layer))
    return { code, stdout: out.join("\n"), stderr: err.join("\n") }
  })

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "berth-migrate-cli-"))

describe("berth-migrate in process", () => {
  it.live("create, up, status, down --dry-run, down, version, validate with exit codes", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const db = ["--dir", dir, "--database-url", process.env["DATABASE_URL"]!, "--table", "cli.history"]
      const created = yield* cli("create", "create widgets", "--seq", "--dir", dir)
      expect(created.code).toBe(0)
      expect(fs.readdirSync(dir).sort()).toEqual(["000001_create_widgets.down.sql", "000001_create_widgets.up.sql"])
      fs.writeFileSync(path.join(dir, "000001_create_widgets.up.sql"), "CREATE TABLE widgets (id int PRIMARY KEY);")
      fs.writeFileSync(path.join(dir, "000001_create_widgets.down.sql"), "DROP TABLE widgets;")
      const planned = yield* cli("create", "add_color", "--dir", dir, "--dry-run")
      expect(planned.code).toBe(0)
      expect(planned.stdout).toContain("-- dry run: would write")
      expect(fs.readdirSync(dir)).toHaveLength(2)
      expect((yield* cli("create", "add_color", "--dir", dir)).code).toBe(0)
      fs.writeFileSync(path.join(dir, "000002_add_color.up.sql"), "ALTER TABLE widgets ADD COLUMN color text;")
      fs.writeFileSync(path.join(dir, "000002_add_color.down.sql"), "ALTER TABLE widgets DROP COLUMN color;")

      const pending = yield* cli("status", ...db)
      expect(pending.code).toBe(3)
      expect(pending.stdout).toContain("2 pending")

      const up = yield* cli("up", ...db)
      expect(up).toMatchObject({ code: 0, stderr: "" })
      expect(up.stdout).toMatch(/↑ 000001_create_widgets \d+ ms/)
      expect(up.stdout).toMatch(/↑ 000002_add_color \d+ ms/)
      expect(up.stdout).toContain("version none -> 2")
      // No colour codes when not on a terminal.
      expect(up.stdout).not.toContain("\u001b[")

      const clean = yield* cli("status", ...db, "--json")
      expect(clean.code).toBe(0)
      expect(JSON.parse(clean.stdout)).toMatchObject({ current: 2, pending: [], failed: [] })

      const dry = yield* cli("down", "--all", "--dry-run", ...db)
      expect(dry.code).toBe(0)
      expect(dry.stdout).toContain("DROP TABLE widgets;")
      expect(dry.stdout).toContain(`DELETE FROM "cli"."history" WHERE version = 1;`)
      expect((yield* cli("version", ...db)).stdout).toBe("2")

      const down = yield* cli("down", ...db)
      expect(down.code).toBe(0)
      expect(down.stdout).toMatch(/↓ 000002_add_color/)
      expect(JSON.parse((yield* cli("version", ...db, "--json")).stdout)).toEqual({ version: 1, failed: false })

      // An edited applied file: validate and status exit 4.
      fs.writeFileSync(path.join(dir, "000001_create_widgets.up.sql"), "CREATE TABLE widgets (id bigint PRIMARY KEY);")
      const invalid = yield* cli("validate", ...db)
      expect(invalid.code).toBe(4)
      expect(invalid.stdout).toContain("~ 1 create_widgets: checksum changed")
      expect(invalid.stderr).toMatch(/^error: applied migration\(s\) changed/)
      expect((yield* cli("status", ...db)).code).toBe(4)
      const refused = yield* cli("up", ...db)
      expect(refused.code).toBe(1)
      expect(refused.stderr.split("\n")).toHaveLength(1)
      expect((yield* cli("repair", "--accept-checksums", ...db)).code).toBe(0)
      expect((yield* cli("validate", ...db)).code).toBe(0)
    }).pipe(Effect.provide(SqlLive())))

  it.live("a failing migration: exit 1 with the server's error; force clears it", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const db = ["--dir", dir, "--table", "cli_fail.history", "--database-url", process.env["DATABASE_URL"]!]
      fs.writeFileSync(
        path.join(dir, "000001_bad.up.sql"),
        "CREATE TABLE cli_fail_t (id int REFERENCES missing_table (id));"
      )
      const failed = yield* cli("up", ...db)
      expect(failed.code).toBe(1)
      expect(failed.stdout).toContain("✗ 000001_bad")
      expect(failed.stderr).toBe(
        `error: migration 1 bad (up) failed [42P01]: relation "missing_table" does not exist (it rolled back)`
      )
      const status = yield* cli("status", ...db, "--json")
      expect(status.code).toBe(4)
      expect(JSON.parse(status.stdout).entries[0]).toMatchObject({
        state: "failed",
        error: `relation "missing_table" does not exist`
      })
      const blocked = yield* cli("up", ...db, "--json")
      expect(blocked.code).toBe(1)
      expect(JSON.parse(blocked.stdout).error._tag).toBe("FailedState")
      const forced = yield* cli("force", "1", "--reason", "created by hand", ...db)
      expect(forced.code).toBe(0)
      expect(forced.stdout).toContain("failed -> forced")
      const [row] = yield* query<{ note: string }>("SELECT note FROM cli_fail.history")
      expect(row?.note).toBe("created by hand")
    }).pipe(Effect.provide(SqlLive())))

  it.live("without a URL it connects with the PG* variables; --color always colours", () =>
    Effect.gen(function*() {
      const db = TestDatabase.current()
      const dir = tempDir()
      fs.writeFileSync(path.join(dir, "000001_pgenv.up.sql"), "CREATE TABLE pgenv_t (id int);")
      const env = {
        PGHOST: db.host,
        PGPORT: String(db.port),
        PGUSER: db.user,
        PGPASSWORD: db.password,
        PGDATABASE: db.database
      }
      const saved = { ...process.env }
      const result = yield* Effect.acquireUseRelease(
        Effect.sync(() => {
          delete process.env["DATABASE_URL"]
          Object.assign(process.env, env)
        }),
        () => cli("up", "--dir", dir, "--table", "pgenv.history", "--color", "always"),
        () =>
          Effect.sync(() => {
            for (const key of Object.keys(env)) delete process.env[key]
            Object.assign(process.env, saved)
          })
      )
      expect(result.code).toBe(0)
      expect(result.stdout).toContain("\u001b[32m↑\u001b[39m 000001_pgenv")
      const [row] = yield* query<{ status: string }>("SELECT status FROM pgenv.history")
      expect(row?.status).toBe("applied")
    }).pipe(Effect.provide(SqlLive())))

  it.live("usage errors exit 2; load errors and unreachable servers exit 1 with one line", () =>
    Effect.gen(function*() {
      expect((yield* cli("bogus")).code).toBe(2)
      expect((yield* cli("up", "not-a-number")).code).toBe(2)
      expect((yield* cli("down", "2", "--all", "--dir", tempDir())).code).toBe(2)
      const missing = yield* cli(
        "up",
        "--dir",
        path.join(tempDir(), "nope"),
        "--database-url",
        process.env["DATABASE_URL"]!
      )
      expect(missing.code).toBe(1)
      expect(missing.stderr).toMatch(/^error: 1 problem\(s\) loading migrations: .*directory does not exist$/)
      const unreachable = yield* cli(
        "status",
        "--dir",
        tempDir(),
        "--database-url",
        "postgres://nobody@127.0.0.1:1/none"
      )
      expect(unreachable.code).toBe(1)
      expect(unreachable.stderr).toMatch(/^error: .*ECONNREFUSED/)
      expect(unreachable.stderr).not.toContain("\n")
    }))
})

describe("berth-migrate as a process", () => {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")
  const bin = path.join(root, "packages/migrate/src/bin.ts")
  const spawn = (args: ReadonlyArray<string>, env: Record<string, string>) =>
    Effect.async<Captured>((resume) => {
      execFile(
        process.execPath,
        ["--conditions=source", "--import", "tsx", bin, ...args],
        { cwd: root, env: { ...process.env, NO_COLOR: "1", ...env }, timeout: 60_000 },
        (error, stdout, stderr) => {
          const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
          resume(Effect.succeed({ code, stdout, stderr }))
        }
      )
    })

  // Two spawns only: each one starts Node and transpiles the sources (seconds on a busy machine).
  it.live(
    "reads DATABASE_URL, exits 3 from status with pending migrations, applies with up",
    () =>
      Effect.gen(function*() {
        const dir = tempDir()
        fs.writeFileSync(path.join(dir, "000001_proc.up.sql"), "CREATE TABLE proc_t (id int);")
        const env = { DATABASE_URL: process.env["DATABASE_URL"]! }
        const before = yield* spawn(["status", "--dir", dir, "--table", "proc.history"], env)
        expect(before.code).toBe(3)
        const up = yield* spawn(["up", "--dir", dir, "--table", "proc.history"], env)
        expect(up.code).toBe(0)
        expect(up.stdout).toMatch(/↑ 000001_proc \d+ ms/)
        const [row] = yield* query<{ status: string }>("SELECT status FROM proc.history")
        expect(row?.status).toBe("applied")
      }).pipe(Effect.provide(SqlLive())),
    180_000
  )
})
