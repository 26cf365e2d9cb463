import { MigrationSource, Scaffold } from "@berth/migrate"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const tempDir = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "berth-scaffold-")), "migrations")
const names = (dir: string) => fs.readdirSync(dir).sort()

describe("Scaffold.create", () => {
  it.effect("timestamps are UTC YYYYMMDDHHMMSS; two in the same second get consecutive versions", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      yield* TestClock.setTime(Date.UTC(2024, 0, 31, 9, 30, 5))
      const first = yield* Scaffold.create({ dir, name: "create users" })
      expect(first.version).toBe(20240131093005)
      const second = yield* Scaffold.create({ dir, name: "add-email!" })
      expect(second.version).toBe(20240131093006)
      expect(names(dir)).toEqual([
        "20240131093005_create_users.down.sql",
        "20240131093005_create_users.up.sql",
        "20240131093006_add-email.down.sql",
        "20240131093006_add-email.up.sql"
      ])
      // The directory's style wins when no format is given.
      const third = yield* Scaffold.create({ dir, name: "more" })
      expect(String(third.version)).toHaveLength(14)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("sequential versions follow the highest one, padded to the requested digits", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      fs.mkdirSync(dir, { recursive: true })
      fs.writeFileSync(path.join(dir, "007_old.up.sql"), "")
      const created = yield* Scaffold.create({ dir, name: "next", format: "seq", digits: 4 })
      expect(created.version).toBe(8)
      expect(created.files.map((f) => path.basename(f))).toEqual(["0008_next.up.sql", "0008_next.down.sql"])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("a TypeScript migration from the template loads as a migration with up and down", () =>
    Effect.gen(function*() {
      const dir = path.join(path.dirname(new URL(import.meta.url).pathname), "fixtures", `.scaffold-${process.pid}`)
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      yield* Scaffold.create({ dir, name: "seed", format: "seq", ext: "ts" })
      const [migration] = yield* MigrationSource.fromDirectory(dir)
      expect(migration).toMatchObject({ version: 1, name: "seed", up: { _tag: "Effect", transactional: true } })
      expect(migration?.down?._tag).toBe("Effect")
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.effect("a dry run computes the files and writes nothing, not even the directory", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const created = yield* Scaffold.create({ dir, name: "plan", format: "seq", dryRun: true })
      expect(created.files.map((f) => path.basename(f))).toEqual(["000001_plan.up.sql", "000001_plan.down.sql"])
      expect(created.contents).toEqual(["-- plan: up\n", "-- plan: down\n"])
      expect(fs.existsSync(dir)).toBe(false)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("refuses empty names and silly digit counts", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      expect(yield* Effect.flip(Scaffold.create({ dir, name: " !! " }))).toMatchObject({
        _tag: "ConfigError",
        option: "name"
      })
      expect(yield* Effect.flip(Scaffold.create({ dir, name: "a", digits: 0 }))).toMatchObject({
        _tag: "ConfigError",
        option: "digits"
      })
    }).pipe(Effect.provide(NodeContext.layer)))
})
