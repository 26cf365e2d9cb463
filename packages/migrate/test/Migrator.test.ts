import { MigrationSource, Migrator } from "@berth/migrate"
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber, Schedule } from "effect"
import { exec, freshSchema, options, query, shopFiles, snapshot, SqlLive } from "./helpers.js"

const history = (schema: string) =>
  query<
    { version: string; name: string; status: string; checksum: string | null; error: Record<string, unknown> | null }
  >(
    `SELECT version::text, name, status, checksum, error FROM ${schema}_meta.history ORDER BY version`
  )

describe("up / down / goto", () => {
  it.live("round trips leave the schema identical at every version", () =>
    Effect.gen(function*() {
      const schema = freshSchema()
      const files = shopFiles(schema)
      const opts = options(schema, files)
      yield* exec(`CREATE SCHEMA ${schema}`)
      const snapshots: Array<ReadonlyArray<string>> = [yield* snapshot(schema)]
      for (let v = 1; v <= 4; v++) {
        const result = yield* Migrator.up(opts, 1)
        expect(result.steps.map((s) => s.version)).toEqual([v])
        expect(result.to).toBe(v)
        snapshots.push(yield* snapshot(schema))
      }
      expect(new Set(snapshots.map((s) => s.join("\n"))).size).toBe(5)
      // down one at a time: each step restores the previous snapshot exactly
      for (let v = 4; v >= 1; v--) {
        const result = yield* Migrator.down(opts)
        expect(result.steps).toMatchObject([{ version: v, direction: "down" }])
        expect(yield* snapshot(schema)).toEqual(snapshots[v - 1])
      }
      // goto in both directions lands on the same schema as step by step
      yield* Migrator.goto(opts, 3)
      expect(yield* snapshot(schema)).toEqual(snapshots[3])
      yield* Migrator.goto(opts, 1)
      expect(yield* snapshot(schema)).toEqual(snapshots[1])
      yield* Migrator.goto(opts, 4)
      expect(yield* snapshot(schema)).toEqual(snapshots[4])
      const all = yield* Migrator.down(opts, "all")
      expect(all.steps.map((s) => s.version)).toEqual([4, 3, 2, 1])
      expect(all.to).toBeUndefined()
      expect(yield* snapshot(schema)).toEqual(snapshots[0])
      expect(yield* history(schema)).toEqual([])
      // up with no count applies everything; a second up is a no-op
      expect((yield* Migrator.up(opts)).steps).toHaveLength(4)
      expect((yield* Migrator.up(opts)).steps).toHaveLength(0)
      expect(yield* snapshot(schema)).toEqual(snapshots[4])
    }).pipe(Effect.provide(SqlLive())))

  it.live("records version, name, checksum, duration, applied by and the db user", () =>
    Effect.gen(function*() {
      const schema = freshSchema()
      yield* Migrator.up(options(schema, shopFiles(schema), { appliedBy: "ci@runner-7" }))
      const rows = yield* query<Record<string, unknown>>(
        `SELECT version::text, name, checksum, status, transactional, applied_at, duration_ms, applied_by, db_user, error
         FROM ${schema}_meta.history ORDER BY seq`
      )
      expect(rows.map((r) => [r["version"], r["name"], r["status"], r["transactional"]])).toEqual([
        ["1", "create_users", "applied", true],
        ["2", "add_status", "applied", true],
        ["3", "orders", "applied", true],
        ["4", "orders_index", "applied", false]
      ])
      for (const row of rows) {
        expect(row["checksum"]).toMatch(/^[0-9a-f]{64}$/)
        expect(row["applied_at"]).toBeInstanceOf(Date)
        expect(typeof row["duration_ms"]).toBe("number")
        expect(row["applied_by"]).toBe("ci@runner-7")
        expect(typeof row["db_user"]).toBe("string")
        expect(row["error"]).toBeNull()
      }
    }).pipe(Effect.provide(SqlLive())))

  it.live("a SET in one migration leaks neither into the next, the history writes, nor the pool", () =>
    Effect.gen(function*() {
      const schema = freshSchema()
      const table = `hist_${schema}`
      const source = MigrationSource.make([
        {
          version: 1,
          name: "moves_search_path",
          up:
            `CREATE SCHEMA ${schema}; SET search_path TO ${schema}; SET statement_timeout = '7s'; CREATE TABLE a (id int);`
        },
        { version: 2, name: "unqualified", up: `CREATE TABLE b_${schema} (id int);` }
      ])
      yield* Migrator.up({ source, table, onEvent: () => Effect.void })
      const where = yield* query<{ t: string }>(
        `SELECT schemaname || '.' || tablename AS t FROM pg_tables WHERE tablename IN ('a', 'b_${schema}', '${table}') AND schemaname IN ('public', '${schema}') ORDER BY 1`
      )
      expect(where.map((r) => r.t)).toEqual([`${schema}.a`, `public.b_${schema}`, `public.${table}`].sort())
      // One connection in this pool: the one the migrator used.
      const [setting] = yield* query<{ s: string }>("SELECT current_setting('statement_timeout') AS s")
      expect(setting?.s).toBe("0")
    }).pipe(Effect.provide(SqlLive({ maxConnections: 1 }))))

  it.live("down refuses before doing anything when a migration has no down", () =>
    Effect.gen(function*() {
      const schema = freshSchema()
      const files = { ...shopFiles(schema) }
      delete files["000002_add_status.down.sql"]
      const opts = options(schema, files)
      yield* Migrator.up(opts)
      const error = yield* Effect.flip(Migrator.down(opts, 3))
      expect(error).toMatchObject({ _tag: "Irreversible", versions: [2] })
      expect((yield* history(schema)).map((r) => r.version)).toEqual(["1", "2", "3", "4"])
      // goto to an unknown version is refused too
      expect(yield* Effect.flip(Migrator.goto(opts, 7))).toMatchObject({ _tag: "UnknownVersion", version: 7 })
    }).pipe(Effect.provide(SqlLive())))

  it.live("rejects nonsense options with typed errors before touching the database", () =>
    Effect.gen(function*() {
      const schema = freshSchema()
      const opts = options(schema, shopFiles(schema))
      expect(yield* Effect.flip(Migrator.up(opts, 0))).toMatchObject({ _tag: "ConfigError", option: "count" })
      expect(yield* Effect.flip(Migrator.down(opts, -1))).toMatchObject({ _tag: "ConfigError", option: "count" })
      expect(yield* Effect.flip(Migrator.up({ ...opts, table: "a.b.c" }))).toMatchObject({
        _tag: "ConfigError",
        option: "table"
      })
      expect(yield* Effect.flip(Migrator.up({ ...opts, table: "x; drop table y" }))).toMatchObject({
        _tag: "ConfigError"
      })
      const [exists] = yield* query<{ n: string }>(
        `SELECT count(*)::text AS n FROM pg_namespace WHERE nspname = '${schema}_meta'`
      )
      expect(exists?.n).toBe("0")
    }).pipe(Effect.provide(SqlLive())))
})

describe("failure state", () => {
  it.live("a failing migration leaves the database as before it plus a failed row with the server's error", () =>
    Effect.gen(function*() {
      const schema = freshSchema()
      const files = {
        ...shopFiles(schema),
        "000003_orders.up.sql": `CREATE TABLE ${schema}.orders (id bigint PRIMARY KEY);
INSERT INTO ${schema}.orders VALUES (1), (1);`
      }
      const opts = options(schema, files)
      yield* Migrator.up(opts, 2)
      const before = yield* snapshot(schema)
      const error = yield* Effect.flip(Migrator.up(opts))
      expect(error).toMatchObject({
        _tag: "MigrationFailed",
        version: 3,
        direction: "up",
        transactional: true,
        error: { code: "23505" }
      })
      expect(yield* snapshot(schema)).toEqual(before)
      const rows = yield* history(schema)
      expect(rows.map((r) => [r.version, r.status])).toEqual([["1", "applied"], ["2", "applied"], ["3", "failed"]])
      expect(rows[2]!.error).toMatchObject({ code: "23505", direction: "up" })
      expect(String(rows[2]!.error!["message"])).toContain("duplicate key")

      // Blocked until repair, for every changing command.
      expect(yield* Effect.flip(Migrator.up(opts))).toMatchObject({ _tag: "FailedState" })
      expect(yield* Effect.flip(Migrator.down(opts))).toMatchObject({ _tag: "FailedState" })
      expect(yield* Effect.flip(Migrator.goto(opts, 4))).toMatchObject({ _tag: "FailedState" })
      const version = yield* Migrator.version(opts)
      expect(version).toEqual({ version: 2, failed: true })

      // Fix the file, repair (the recorded reason is reported), then it runs.
      const repaired = yield* Migrator.repair(opts)
      expect(repaired.changes).toHaveLength(1)
      expect(repaired.changes[0]).toContain("duplicate key")
      const fixed = options(schema, shopFiles(schema))
      const result = yield* Migrator.up(fixed)
      expect(result.steps.map((s) => s.version)).toEqual([3, 4])
    }).pipe(Effect.provide(SqlLive())))

  it.live("a failing down leaves the migration applied with a failed state; repair puts it back", () =>
    Effect.gen(function*() {
      const schema = freshSchema()
      const files = { ...shopFiles(schema), "000003_orders.down.sql": `DROP TABLE ${schema}.no_such_table;` }
      const opts = options(schema, files)
      yield* Migrator.up(opts, 3)
      const before = yield* snapshot(schema)
      const error = yield* Effect.flip(Migrator.down(opts))
      expect(error).toMatchObject({ _tag: "MigrationFailed", version: 3, direction: "down", error: { code: "42P01" } })
      expect(yield* snapshot(schema)).toEqual(before)
      const rows = yield* history(schema)
      expect(rows[2]).toMatchObject({ version: "3", status: "failed", error: { direction: "down", code: "42P01" } })
      expect(yield* Effect.flip(Migrator.down(opts))).toMatchObject({ _tag: "FailedState" })
      const repaired = yield* Migrator.repair(opts)
      expect(repaired.changes[0]).toContain("back to applied")
      expect((yield* history(schema))[2]).toMatchObject({ status: "applied", error: null })
      const fixed = options(schema, shopFiles(schema))
      expect((yield* Migrator.down(fixed)).steps.map((s) => s.version)).toEqual([3])
    }).pipe(Effect.provide(SqlLive())))

  it.live("tableLockTimeout makes a migration give up on a busy table instead of queueing behind it", () =>
    Effect.gen(function*() {
      const schema = freshSchema()
      yield* exec(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.hot (id int)`)
      const holding = yield* Deferred.make<void>()
      const done = yield* Deferred.make<void>()
      // Another session keeps a conflicting lock on the table (a long report, say).
      const blocker = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const conn = yield* sql.reserve
        yield* conn.executeUnprepared(`BEGIN; LOCK TABLE ${schema}.hot IN ACCESS SHARE MODE`, [], undefined)
        yield* Deferred.succeed(holding, undefined)
        yield* Deferred.await(done)
        yield* conn.executeUnprepared("ROLLBACK", [], undefined)
      })))
      yield* Deferred.await(holding)
      const files = {
        "000001_alter.up.sql": `ALTER TABLE ${schema}.hot ADD COLUMN c int;`,
        "000002_slow.up.sql": `-- berth:no-transaction
SELECT pg_sleep(5);`
      }
      const opts = options(schema, files, { tableLockTimeout: "200 millis", statementTimeout: "1 second" })
      const dry = yield* Migrator.up({ ...opts, dryRun: true })
      expect(dry.sql).toContain("SET LOCAL lock_timeout = 200;")
      expect(dry.sql).toContain("SET statement_timeout = 1000;")
      const locked = yield* Effect.flip(Migrator.up(opts))
      expect(locked).toMatchObject({ _tag: "MigrationFailed", version: 1, error: { code: "55P03" } })
      yield* Deferred.succeed(done, undefined)
      yield* Fiber.join(blocker)
      yield* Migrator.repair(opts)
      const slow = yield* Effect.flip(Migrator.up(opts))
      expect(slow).toMatchObject({ _tag: "MigrationFailed", version: 2, error: { code: "57014" } })
      expect(yield* Effect.flip(Migrator.up({ ...opts, statementTimeout: Duration.infinity }))).toMatchObject({
        _tag: "ConfigError",
        option: "statementTimeout"
      })
    }).pipe(Effect.provide(SqlLive())))

  it.live("a failed COMMIT (deferred constraint) is a failed migration, not a defect", () =>
    Effect.gen(function*() {
      const schema = freshSchema()
      const files = {
        "000001_parent.up.sql": `CREATE SCHEMA ${schema};
CREATE TABLE ${schema}.parent (id int PRIMARY KEY);
CREATE TABLE ${schema}.child (parent_id int REFERENCES ${schema}.parent DEFERRABLE INITIALLY DEFERRED);
INSERT INTO ${schema}.child VALUES (42);`
      }
      const error = yield* Effect.flip(Migrator.up(options(schema, files)))
      expect(error).toMatchObject({ _tag: "MigrationFailed", version: 1, error: { code: "23503" } })
      const [ns] = yield* query<{ n: string }>(
        `SELECT count(*)::text AS n FROM pg_namespace WHERE nspname = '${schema}'`
      )
      expect(ns?.n).toBe("0")
      expect((yield* history(schema)).map((r) => r.status)).toEqual(["failed"])
    }).pipe(Effect.provide(SqlLive())))

  it.live("a failing no-transaction migration records the failing statement; force marks it applied", () =>
    Effect.gen(function*() {
      const schema = freshSchema()
      const files = {
        "000001_base.up.sql": `CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.t (id int);`,
        "000002_partial.up.sql": `-- berth:no-transaction
CREATE TABLE ${schema}.a (id int);
CREATE TABLE ${schema}.b (id int REFERENCES ${schema}.nope (id));
CREATE TABLE ${schema}.c (id int);`
      }
      const opts = options(schema, files)
      const error = yield* Effect.flip(Migrator.up(opts))
      expect(error).toMatchObject({
        _tag: "MigrationFailed",
        version: 2,
        transactional: false,
        error: { code: "42P01" }
      })
      if (error._tag === "MigrationFailed") expect(error.error.statement).toContain(`${schema}.b`)
      // Partially applied, as the message says: a exists, c does not.
      const tables = yield* query<{ t: string }>(
        `SELECT tablename AS t FROM pg_tables WHERE schemaname = '${schema}' ORDER BY 1`
      )
      expect(tables.map((r) => r.t)).toEqual(["a", "t"])
      const rows = yield* history(schema)
      expect(rows[1]).toMatchObject({ version: "2", status: "failed" })
      expect(rows[1]!.error).toMatchObject({ code: "42P01", direction: "up" })
      // The operator finishes it by hand and forces the version.
      yield* exec(
        `CREATE TABLE ${schema}.nope (id int PRIMARY KEY); CREATE TABLE ${schema}.b (id int REFERENCES ${schema}.nope (id)); CREATE TABLE ${schema}.c (id int)`
      )
      const forced = yield* Migrator.force(opts, 2, "finished by hand (ticket 123)")
      expect(forced.changes[0]).toContain("failed -> forced")
      const [row] = yield* query<{ status: string; note: string; error: unknown }>(
        `SELECT status, note, error FROM ${schema}_meta.history WHERE version = 2`
      )
      expect(row).toEqual({ status: "forced", note: "finished by hand (ticket 123)", error: null })
      expect(yield* Migrator.version(opts)).toEqual({ version: 2, failed: false })
      expect((yield* Migrator.up(opts)).steps).toEqual([])
    }).pipe(Effect.provide(SqlLive())))

  it.live("an interrupted no-transaction migration leaves a running row that blocks like a failure", () =>
    Effect.gen(function*() {
      const schema = freshSchema()
      const files = {
        "000001_slow.up.sql": `-- berth:no-transaction
CREATE SCHEMA ${schema};
SELECT pg_sleep(30);`
      }
      const opts = options(schema, files)
      const fiber = yield* Effect.fork(Migrator.up(opts))
      // Wait until the sleep is running on the server, then interrupt the runner.
      yield* query<{ n: string }>(
        `SELECT count(*)::text AS n FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%' AND state = 'active'`
      ).pipe(
        Effect.filterOrFail((rows) => rows[0]?.n === "1"),
        Effect.retry({ times: 1000, schedule: Schedule.spaced("20 millis") })
      )
      yield* Fiber.interrupt(fiber)
      // The statement was cancelled on the server, not left running.
      const [left] = yield* query<{ n: string }>(
        `SELECT count(*)::text AS n FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%' AND state = 'active'`
      )
      expect(left?.n).toBe("0")
      const status = yield* Migrator.status(opts)
      expect(status.entries).toMatchObject([{ version: 1, state: "running" }])
      expect(status.failed).toEqual([1])
      expect(yield* Effect.flip(Migrator.up(opts))).toMatchObject({ _tag: "FailedState" })
      // The lock was released by the interrupted runner: repair does not wait.
      const repaired = yield* Migrator.repair({ ...opts, wait: false })
      expect(repaired.changes[0]).toContain("interrupted")
    }).pipe(Effect.provide(SqlLive())))
})
