import { Migrator } from "@berth/migrate"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { exec, freshSchema, options, query, shopFiles, snapshot, SqlLive } from "./helpers.js"

const historyCount = (schema: string) =>
  Effect.map(
    query<{ n: string }>(`SELECT count(*)::text AS n FROM ${schema}_meta.history`),
    (rows) => Number(rows[0]?.n)
  )

describe("status, version, validate", () => {
  it.live("status on a database without history is all pending and creates nothing", () =>
    Effect.gen(function*() {
      const schema = freshSchema()
      const opts = options(schema, shopFiles(schema))
      const report = yield* Migrator.status(opts)
      expect(report.current).toBeUndefined()
      expect(report.pending).toEqual([1, 2, 3, 4])
      expect(report.entries.map((e) => e.state)).toEqual(["pending", "pending", "pending", "pending"])
      expect(yield* Migrator.version(opts)).toEqual({ version: undefined, failed: false })
      const [ns] = yield* query<{ n: string }>(
        `SELECT count(*)::text AS n FROM pg_namespace WHERE nspname = '${schema}_meta'`
      )
      expect(ns?.n).toBe("0")
    }).pipe(Effect.provide(SqlLive())))

  it.live("out-of-order migrations are reported and refused unless allowed", () =>
    Effect.gen(function*() {
      const schema = freshSchema()
      const all = shopFiles(schema)
      // A branch merged late: version 2 arrives after 3 and 4 were applied.
      const without2 = Object.fromEntries(Object.entries(all).filter(([k]) => !k.startsWith("000002")))
      const files3 = {
        ...without2,
        "000003_orders.up.sql": without2["000003_orders.up.sql"]!
      }
      yield* Migrator.up(options(schema, files3))
      const opts = options(schema, all)
      const report = yield* Migrator.status(opts)
      expect(report.pending).toEqual([2])
      expect(report.outOfOrder).toEqual([2])
      expect(report.entries.find((e) => e.version === 2)).toMatchObject({ state: "pending", outOfOrder: true })
      const refused = yield* Effect.flip(Migrator.up(opts))
      expect(refused).toMatchObject({ _tag: "OutOfOrder", versions: [2], latestApplied: 4 })
      // `up 1` cannot sneak it through either
      expect(yield* Effect.flip(Migrator.up(opts, 1))).toMatchObject({ _tag: "OutOfOrder" })
      const applied = yield* Migrator.up({ ...opts, allowOutOfOrder: true })
      expect(applied.steps.map((s) => s.version)).toEqual([2])
      expect((yield* Migrator.status(opts)).pending).toEqual([])
      // Reverting goes by application order: 2 (applied last) comes back first.
      const reverted = yield* Migrator.down(opts, 2)
      expect(reverted.steps.map((s) => s.version)).toEqual([2, 4])
    }).pipe(Effect.provide(SqlLive())))

  it.live("modified applied migrations are detected by checksum and block runs until accepted", () =>
    Effect.gen(function*() {
      const schema = freshSchema()
      const files = shopFiles(schema)
      yield* Migrator.up(options(schema, files), 2)
      const edited = { ...files, "000001_create_users.up.sql": files["000001_create_users.up.sql"] + "\n-- tweak" }
      const opts = options(schema, edited)
      const report = yield* Migrator.status(opts)
      expect(report.modified).toEqual([1])
      expect(report.entries[0]).toMatchObject({ version: 1, state: "applied", modified: true })
      const invalid = yield* Effect.flip(Migrator.validate(opts))
      expect(invalid).toMatchObject({ _tag: "ChecksumMismatch", modified: [{ version: 1, name: "create_users" }] })
      expect(yield* Effect.flip(Migrator.up(opts))).toMatchObject({ _tag: "ChecksumMismatch" })
      // CRLF line endings are not an edit.
      const crlf = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, v.replace(/\n/g, "\r\n")]))
      expect(yield* Migrator.validate(options(schema, crlf))).toEqual({ checked: 2, missing: [] })
      // Explicitly ignoring checksums lets a run through; repair can accept them.
      const up = yield* Migrator.up({ ...opts, validateChecksums: false }, 1)
      expect(up.steps.map((s) => s.version)).toEqual([3])
      const repaired = yield* Migrator.repair(opts, { acceptChecksums: true })
      expect(repaired.changes).toHaveLength(1)
      expect(repaired.changes[0]).toContain("checksum")
      expect(yield* Migrator.validate(opts)).toEqual({ checked: 3, missing: [] })
    }).pipe(Effect.provide(SqlLive())))

  it.live("applied migrations missing from the source are reported and cannot be reverted", () =>
    Effect.gen(function*() {
      const schema = freshSchema()
      const files = shopFiles(schema)
      yield* Migrator.up(options(schema, files))
      const older = Object.fromEntries(Object.entries(files).filter(([k]) => !k.startsWith("000004")))
      const opts = options(schema, older)
      const report = yield* Migrator.status(opts)
      expect(report.missing).toEqual([4])
      expect(report.entries[3]).toMatchObject({ version: 4, state: "missing" })
      expect(yield* Migrator.validate(opts)).toEqual({ checked: 3, missing: [4] })
      // An older build can still run `up` (nothing to do) ...
      expect((yield* Migrator.up(opts)).steps).toEqual([])
      // ... but not revert what it does not know.
      expect(yield* Effect.flip(Migrator.down(opts))).toMatchObject({ _tag: "Irreversible", versions: [4] })
    }).pipe(Effect.provide(SqlLive())))
})

describe("dry run", () => {
  it.live("every changing command prints its SQL and changes nothing", () =>
    Effect.gen(function*() {
      const schema = freshSchema()
      const files = shopFiles(schema)
      const opts = options(schema, files, { dryRun: true })
      const catalog = () =>
        Effect.map(
          query<{ line: string }>(
            `SELECT nspname || '.' || relname AS line FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE nspname LIKE '${schema}%' ORDER BY 1`
          ),
          (rows) => rows.map((r) => r.line)
        )
      const before = yield* catalog()
      expect(before).toEqual([])

      const up = yield* Migrator.up(opts)
      expect(up).toMatchObject({ dryRun: true, from: undefined, to: 4 })
      expect(up.steps.map((s) => [s.version, s.durationMs])).toEqual([[1, undefined], [2, undefined], [3, undefined], [
        4,
        undefined
      ]])
      expect(up.sql).toContain(`CREATE TABLE IF NOT EXISTS "${schema}_meta"."history"`)
      expect(up.sql).toContain(`CREATE TABLE ${schema}.users`)
      expect(up.sql).toContain("BEGIN;")
      expect(up.sql).toContain(`CREATE INDEX CONCURRENTLY orders_user_id ON ${schema}.orders (user_id);`)
      expect(up.sql).toContain("'running'")
      expect(up.sql).not.toMatch(/\$\d/)
      expect(yield* catalog()).toEqual(before)

      // With real history: down, goto, force, repair, baseline dry runs change nothing either.
      yield* Migrator.up({ ...opts, dryRun: false }, 3)
      const applied = yield* snapshot(schema)
      const rows = yield* historyCount(schema)
      const down = yield* Migrator.down(opts, "all")
      expect(down.steps.map((s) => s.version)).toEqual([3, 2, 1])
      expect(down.sql).toContain(`DROP TABLE ${schema}.users;`)
      expect(down.sql).toContain(`DELETE FROM "${schema}_meta"."history" WHERE version = 1;`)
      const goto = yield* Migrator.goto(opts, 1)
      expect(goto.steps.map((s) => `${s.direction}${s.version}`)).toEqual(["down3", "down2"])
      const forced = yield* Migrator.force(opts, 4)
      expect(forced.sql).toContain("'forced'")
      const repaired = yield* Migrator.repair(opts)
      expect(repaired.changes).toEqual([])
      expect(yield* Effect.flip(Migrator.baseline(opts, 3))).toMatchObject({ _tag: "ConfigError" })
      expect(yield* snapshot(schema)).toEqual(applied)
      expect(yield* historyCount(schema)).toBe(rows)
      expect((yield* Migrator.status(opts)).current).toBe(3)
    }).pipe(Effect.provide(SqlLive())))
})

describe("force and baseline", () => {
  it.live("baseline adopts an existing database; up continues after it", () =>
    Effect.gen(function*() {
      const schema = freshSchema()
      const files = shopFiles(schema)
      // The schema exists already (built before Berth), up to version 2.
      yield* exec(`${files["000001_create_users.up.sql"]}\n${files["000002_add_status.up.sql"]}`)
      const opts = options(schema, files)
      const result = yield* Migrator.baseline(opts, 2)
      expect(result.changes).toEqual(["000001_create_users: baseline", "000002_add_status: baseline"])
      const report = yield* Migrator.status(opts)
      expect(report.entries.map((e) => e.state)).toEqual(["baseline", "baseline", "pending", "pending"])
      expect((yield* Migrator.up(opts)).steps.map((s) => s.version)).toEqual([3, 4])
      // A second baseline is refused: the history is not empty.
      expect(yield* Effect.flip(Migrator.baseline(opts, 2))).toMatchObject({ _tag: "ConfigError" })
    }).pipe(Effect.provide(SqlLive())))

  it.live("baseline at a version without a file records a marker that is never reverted", () =>
    Effect.gen(function*() {
      const schema = freshSchema()
      const files = {
        "20240101000000_legacy_done.up.sql": `CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.a (id int);`,
        "20240101000000_legacy_done.down.sql": `DROP SCHEMA ${schema} CASCADE;`
      }
      const opts = options(schema, files)
      const result = yield* Migrator.baseline(opts, 20231231235959)
      expect(result.changes).toEqual(["20231231235959_baseline: baseline marker"])
      expect((yield* Migrator.up(opts)).steps.map((s) => s.version)).toEqual([20240101000000])
      expect((yield* Migrator.down(opts, "all")).steps.map((s) => s.version)).toEqual([20240101000000])
      expect((yield* Migrator.version(opts)).version).toBe(20231231235959)
    }).pipe(Effect.provide(SqlLive())))

  it.live("force refuses unknown versions", () =>
    Effect.gen(function*() {
      const schema = freshSchema()
      const opts = options(schema, shopFiles(schema))
      expect(yield* Effect.flip(Migrator.force(opts, 99))).toMatchObject({ _tag: "UnknownVersion", version: 99 })
    }).pipe(Effect.provide(SqlLive())))
})
