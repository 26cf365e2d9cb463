import { MigrationSource, Migrator } from "@berth/migrate"
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Logger } from "effect"
import { freshSchema, SqlLive } from "./helpers.js"

class UserCount extends Context.Tag("test/UserCount")<UserCount, number>() {}

const files = (schema: string) => ({
  "000001_users.up.sql": `CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.users (id int);`,
  "000002_seed.up.sql": `INSERT INTO ${schema}.users VALUES (1), (2), (3);`
})

// A service that needs the migrated schema while it is being built.
const userCount = (schema: string) =>
  Layer.effect(
    UserCount,
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      Effect.map(sql.unsafe<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.users`), (rows) =>
        rows[0]!.n))
  )

const captureLogs = (lines: Array<string>) =>
  Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => lines.push(String(message))))

describe("Migrator.layer", () => {
  it.live("migrates before the services that depend on it are built, logging progress", () =>
    Effect.gen(function*() {
      const schema = freshSchema("app")
      const logs: Array<string> = []
      const Migrated = Migrator.layer({
        source: MigrationSource.fromFiles(files(schema)),
        table: `${schema}_h.history`
      })
      const App = userCount(schema).pipe(
        Layer.provide(Migrated),
        Layer.provide(SqlLive()),
        Layer.provide(captureLogs(logs))
      )
      const count = yield* Effect.provide(UserCount, App)
      expect(count).toBe(3)
      expect(logs).toEqual([
        expect.stringMatching(/^applied 000001_users \(\d+ ms\)$/),
        expect.stringMatching(/^applied 000002_seed \(\d+ ms\)$/),
        expect.stringMatching(/^applied 2 migration\(s\), now at version 2 \(\d+ ms\)$/)
      ])
      // A second start finds nothing to do.
      const again: Array<string> = []
      const App2 = userCount(schema).pipe(
        Layer.provide(
          Migrator.layer({ source: MigrationSource.fromFiles(files(schema)), table: `${schema}_h.history` })
        ),
        Layer.provide(SqlLive()),
        Layer.provide(captureLogs(again))
      )
      expect(yield* Effect.provide(UserCount, App2)).toBe(3)
      expect(again).toEqual(["database schema up to date at version 2"])
    }))

  it.live("verify mode refuses to start on a schema that is not up to date, and changes nothing", () =>
    Effect.gen(function*() {
      const schema = freshSchema("verify")
      const options = {
        source: MigrationSource.fromFiles(files(schema)),
        table: `${schema}_h.history`,
        mode: "verify" as const
      }
      const error = yield* Effect.flip(
        Effect.provide(UserCount, userCount(schema).pipe(Layer.provide(Migrator.layer(options))))
      )
      expect(error).toMatchObject({ _tag: "NotUpToDate", pending: [1, 2] })
      yield* Migrator.up({ ...options, onEvent: () => Effect.void })
      expect(yield* Effect.provide(UserCount, userCount(schema).pipe(Layer.provide(Migrator.layer(options))))).toBe(3)
    }).pipe(Effect.provide(SqlLive())))

  it.live("a failing migration fails the layer: the application does not start", () =>
    Effect.gen(function*() {
      const schema = freshSchema("broken")
      const source = MigrationSource.fromFiles({
        ...files(schema),
        "000002_seed.up.sql": `INSERT INTO ${schema}.nope VALUES (1)`
      })
      let built = false
      const App = Layer.effectDiscard(Effect.sync(() => {
        built = true
      })).pipe(
        Layer.provide(Migrator.layer({ source, table: `${schema}_h.history`, onEvent: () => Effect.void }))
      )
      const error = yield* Effect.flip(Layer.build(App).pipe(Effect.scoped))
      expect(error).toMatchObject({ _tag: "MigrationFailed", version: 2, error: { code: "42P01" } })
      expect(built).toBe(false)
    }).pipe(Effect.provide(SqlLive())))
})
