import { MigrationSource, Migrator } from "@berth/migrate"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as path from "node:path"
import { query, SqlLive } from "./helpers.js"

const fixture = (name: string) => path.join(import.meta.dirname, "fixtures", name)

describe("fromDirectory", () => {
  it.live("loads SQL pairs, TypeScript modules (both conventions) and directives; ignores docs and dotfiles", () =>
    Effect.gen(function*() {
      const migrations = yield* MigrationSource.fromDirectory(fixture("mixed"))
      expect(migrations.map((m) => [m.version, m.name, m.up._tag, m.down?._tag, m.up.transactional])).toEqual([
        [1, "users", "Sql", "Sql", true],
        [2, "seed", "Effect", "Effect", true],
        [3, "effect_sql_style", "Effect", undefined, true],
        [4, "email_index", "Sql", "Sql", false]
      ])
      expect(migrations.every((m) => /^[0-9a-f]{64}$/.test(m.checksum ?? ""))).toBe(true)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("runs the mixed directory up and all the way down against PostgreSQL", () =>
    Effect.gen(function*() {
      const opts = { source: MigrationSource.fromDirectory(fixture("mixed")), onEvent: () => Effect.void }
      const up = yield* Migrator.up(opts)
      expect(up.steps.map((s) => [s.version, s.transactional])).toEqual([[1, true], [2, true], [3, true], [4, false]])
      const rows = yield* query<{ id: string; email: string; name: string | null }>(
        "SELECT id::text, email, name FROM fixture_users"
      )
      expect(rows).toEqual([{ id: "1", email: "admin@example.com", name: null }])
      const [index] = yield* query<{ valid: boolean }>(
        "SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = 'fixture_users_email'::regclass"
      )
      expect(index?.valid).toBe(true)
      // 3 has no down: down --all stops before touching anything.
      expect(yield* Effect.flip(Migrator.down(opts, "all"))).toMatchObject({ _tag: "Irreversible", versions: [3] })
      expect((yield* Migrator.down(opts, 1)).steps.map((s) => s.version)).toEqual([4])
    }).pipe(Effect.provide(SqlLive()), Effect.provide(NodeContext.layer)))

  it.live("reports every problem of a broken directory at once", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(MigrationSource.fromDirectory(fixture("broken")))
      expect(error._tag).toBe("LoadError")
      const found = error.problems.map((p) => `${p.kind} ${path.basename(p.file.split(", ")[0]!)}`).sort()
      expect(found).toEqual([
        "down-without-up 000002_orphan.down.sql",
        "duplicate-version 000001_a.up.sql",
        "invalid-module 000005_bad.ts",
        "invalid-version 0_zero.up.sql",
        "name-mismatch 000006_y.down.sql",
        "transaction-control 000003_wrapped.up.sql",
        "transaction-control 000003_wrapped.up.sql",
        "unknown-directive 000004_typo.up.sql",
        "unparsable-name notes.sql"
      ])
      // The PL/pgSQL BEGIN inside the dollar quote is not reported; BEGIN and COMMIT are, with lines.
      const control = error.problems.filter((p) => p.kind === "transaction-control").map((p) => p.message)
      expect(control[0]).toMatch(/^line 1: "BEGIN"/)
      expect(control[1]).toMatch(/^line 8: "COMMIT"/)
      expect(error.message).toContain("9 problem(s)")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("a missing directory is a typed problem", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(MigrationSource.fromDirectory(fixture("nope")))
      expect(error.problems).toMatchObject([{ kind: "missing-directory" }])
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("fromFiles and make", () => {
  it.effect("timestamp versions sort numerically and keys may carry paths", () =>
    Effect.gen(function*() {
      const migrations = yield* MigrationSource.fromFiles({
        "/m/20240301120000_b.up.sql": "select 2",
        "/m/20240101120000_a.up.sql": "select 1",
        "/m/20240101120000_a.down.sql": "select -1"
      })
      expect(migrations.map((m) => [m.version, m.name, m.down !== undefined])).toEqual([
        [20240101120000, "a", true],
        [20240301120000, "b", false]
      ])
    }))

  it.effect("make validates versions and duplicates, listing all", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(MigrationSource.make([
        { version: 1, name: "a", up: "select 1" },
        { version: 1, name: "b", up: "select 1" },
        { version: -3, name: "c", up: "select 1" },
        { version: 1.5, name: "d", up: "select 1" }
      ]))
      expect(error.problems.map((p) => p.kind)).toEqual(["duplicate-version", "invalid-version", "invalid-version"])
    }))

  it.effect("fromModules takes bundled modules (values or loaders), like @effect/sql's fromGlob", () =>
    Effect.gen(function*() {
      const migrations = yield* MigrationSource.fromModules({
        "./migrations/2_seed.ts": () => Promise.resolve({ up: Effect.void, down: Effect.void, transaction: false }),
        "./migrations/1_create.ts": { default: Effect.void },
        "./migrations/3_broken.ts": () => Promise.reject(new Error("boom"))
      }).pipe(Effect.flip)
      expect(migrations.problems).toMatchObject([{ kind: "invalid-module", file: "./migrations/3_broken.ts" }])
      const ok = yield* MigrationSource.fromModules({
        "./migrations/2_seed.ts": () => Promise.resolve({ up: Effect.void, down: Effect.void, transaction: false }),
        "./migrations/1_create.ts": { default: Effect.void }
      })
      expect(ok.map((m) => [m.version, m.name, m.down !== undefined, m.up.transactional, m.checksum])).toEqual([
        [1, "create", false, true, undefined],
        [2, "seed", true, false, undefined]
      ])
    }))

  it.effect("make applies the file rules to SQL text: directives and transaction control", () =>
    Effect.gen(function*() {
      const [index] = yield* MigrationSource.make([
        { version: 1, name: "index", up: "-- berth:no-transaction\ncreate index concurrently i on t (c)" }
      ])
      expect(index?.up.transactional).toBe(false)
      const error = yield* Effect.flip(MigrationSource.make([
        { version: 1, name: "wrapped", up: "begin; create table t (id int); commit;" },
        { version: 2, name: "typo", up: "-- berth:notransaction\nselect 1" },
        { version: 3, name: "explicit", up: "begin; select 1; commit;", transactional: false }
      ]))
      expect(error.problems.map((p) => p.kind)).toEqual([
        "transaction-control",
        "transaction-control",
        "unknown-directive"
      ])
    }))

  it.effect("versions beyond 2^53 are refused rather than rounded", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(MigrationSource.fromFiles({ "99999999999999999_big.up.sql": "select 1" }))
      expect(error.problems).toMatchObject([{ kind: "invalid-version" }])
    }))
})
