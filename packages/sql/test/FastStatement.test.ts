import { Db, EffectSql } from "@berth/sql"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Statement from "@effect/sql/Statement"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { DbTest, eventually, recordingTracer } from "./util.js"

const SqlTest = (options: EffectSql.Options = {}) => EffectSql.layer(options).pipe(Layer.provideMerge(DbTest()))

describe("EffectSql statements: @effect/sql's behaviour without its per-statement scope", () => {
  it.live("the sql tag and sql.unsafe make Berth statements; every way to run one works", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const statement = sql`select ${7}::int as v, ${"x"}::text as t`
      expect(statement.constructor.name).toBe("BerthStatement")
      expect(sql.unsafe("select 1").constructor.name).toBe("BerthStatement")
      expect(sql.safe).toBe(sql)
      // fragments and helpers are unchanged
      expect(sql`select * from t where ${sql.in("id", [1, 2])}`.compile()).toEqual([
        "select * from t where \"id\" IN ($1,$2)",
        [1, 2]
      ])
      expect(yield* statement).toEqual([{ v: 7, t: "x" }])
      expect(yield* statement.values).toEqual([[7, "x"]])
      expect(yield* statement.withoutTransform).toEqual([{ v: 7, t: "x" }])
      expect(yield* statement.unprepared).toEqual([{ v: 7, t: "x" }])
      expect((yield* statement.raw as Effect.Effect<{ rows: ReadonlyArray<unknown> }>).rows).toEqual([{ v: 7, t: "x" }])
      expect(yield* sql.unsafe("select $1::int + 1 as n", [41])).toEqual([{ n: 42 }])
      // a fragment nested in a statement
      const where = sql`v = ${7}`
      expect(yield* sql`select v from (select 7 as v) s where ${where}`).toEqual([{ v: 7 }])
    }).pipe(Effect.provide(SqlTest())))

  it.live("with a real tracer, each statement gets @effect/sql's sql.execute span, with the SQLSTATE of a failure", () => {
    const recorder = recordingTracer()
    return Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`select ${1}::int as v`
      const span = recorder.spans.find((s) => s.name === "sql.execute")
      expect(span?.attributes.get("db.query.text")).toBe("select $1::int as v")
      expect(span?.attributes.get("db.operation.name")).toBe("execute")
      expect(span?.attributes.get("db.system.name")).toBe("postgresql")
      expect(span?.status._tag).toBe("Ended")
      yield* Effect.ignore(sql`select 1/0`)
      const failed = recorder.spans.find((s) =>
        s.name === "sql.execute" && s.attributes.get("db.query.text") === "select 1/0"
      )
      expect(failed?.attributes.get("db.response.status_code")).toBe("22012")
    }).pipe(Effect.provide(SqlTest()), Effect.provide(recorder.layer))
  })

  it.live("a statement that fails to compile under a real tracer still ends its span", () => {
    const recorder = recordingTracer()
    return Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const exit = yield* Effect.exit(sql`insert into nowhere ${sql.insert([])}`)
      expect(exit._tag).toBe("Failure")
      const spans = recorder.spans.filter((s) => s.name === "sql.execute")
      expect(spans.length).toBe(1)
      expect(spans[0]!.status._tag).toBe("Ended")
    }).pipe(Effect.provide(SqlTest()), Effect.provide(recorder.layer))
  })

  it.live("withoutTransforms() gives Berth statements without the result transform", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const plain = sql.withoutTransforms()
      expect(plain).not.toBe(sql)
      expect(plain.withoutTransforms()).toBe(plain)
      expect(plain.safe).toBe(plain)
      const statement = plain`select 1 as some_value`
      expect(statement.constructor.name).toBe("BerthStatement")
      expect(yield* statement).toEqual([{ some_value: 1 }])
      expect(yield* sql`select 1 as some_value`).toEqual([{ someValue: 1 }])
    }).pipe(
      Effect.provide(SqlTest({ transformResultNames: (name) => name.replace(/_(.)/g, (_, c) => c.toUpperCase()) }))
    ))

  it.live("with an @effect/sql TransactionConnection pinned (as migrators do), statements run on it", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const conn = yield* sql.reserve
      const [reserved] = yield* conn.execute("select pg_backend_pid() as pid", [], undefined)
      const [pinned] = yield* Effect.provideService(
        sql`select pg_backend_pid() as pid`,
        SqlClient.TransactionConnection,
        [conn, 0]
      )
      expect(pinned).toEqual(reserved)
    }).pipe(Effect.scoped, Effect.provide(SqlTest())))

  it.live("Statement.withTransformer still sees and replaces every statement", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const seen: Array<string> = []
      const result = yield* Statement.withTransformer(
        sql`select ${1}::int as v`,
        (statement, sql) => {
          seen.push(statement.compile()[0])
          return Effect.succeed(sql`select ${2}::int as v`)
        }
      )
      expect(seen).toEqual(["select $1::int as v"])
      expect(result).toEqual([{ v: 2 }])
    }).pipe(Effect.provide(SqlTest())))

  it.live("an interrupted statement is cancelled on the server", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const running = Effect.map(
        Db.query(
          "select count(*)::int as n from pg_stat_activity where pid <> pg_backend_pid() and state = 'active' " +
            "and query like '%fast-statement-' || 'cancel%'"
        ),
        (rows) => Number(rows[0]?.n)
      )
      const fiber = yield* Effect.fork(sql`select pg_sleep(30), 'fast-statement-cancel' as marker`)
      expect(yield* eventually(Effect.map(running, (n) => n === 1))).toBe(true)
      const started = Date.now()
      yield* Fiber.interrupt(fiber)
      expect(Date.now() - started).toBeLessThan(10_000)
      expect(yield* eventually(Effect.map(running, (n) => n === 0))).toBe(true)
    }).pipe(Effect.provide(SqlTest())), { timeout: 20_000 })
})
