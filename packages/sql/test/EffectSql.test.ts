import { Db, EffectSql } from "@berth/sql"
import { NodeContext } from "@effect/platform-node"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as PgMigrator from "@effect/sql-pg/PgMigrator"
import * as Migrator from "@effect/sql/Migrator"
import * as Model from "@effect/sql/Model"
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlResolver from "@effect/sql/SqlResolver"
import * as SqlSchema from "@effect/sql/SqlSchema"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Layer, Option, Schema, Stream } from "effect"
import { DbTest } from "./util.js"

const SqlTest = (options: EffectSql.Options = {}) => EffectSql.layer(options).pipe(Layer.provideMerge(DbTest()))

class Person extends Model.Class<Person>("Person")({
  id: Model.Generated(Schema.Number),
  name: Schema.String,
  age: Schema.Number
}) {}

describe("EffectSql: @effect/sql code runs unchanged on Berth", () => {
  it.live("sql templates: in, insert, update, json, identifiers", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`drop table if exists people cascade`
      yield* sql`create table people(id serial primary key, name text not null, age int not null, meta jsonb)`
      yield* sql`insert into ${sql("people")} ${sql.insert([{ name: "ann", age: 30 }, { name: "bob", age: 40 }])}`
      const pg = yield* PgClient.PgClient
      yield* sql`update people set ${sql.update({ age: 31 })}, meta = ${
        pg.json({ tags: ["a", "b"] })
      } where name = ${"ann"}`
      const rows = yield* sql<{ name: string; age: number; meta: unknown }>`
        select name, age, meta from people where name in ${sql.in(["ann", "bob"])} order by name`
      expect(rows).toEqual([{ name: "ann", age: 31, meta: { tags: ["a", "b"] } }, { name: "bob", age: 40, meta: null }])
      const values = yield* sql`select name, age from people order by name`.values
      expect(values).toEqual([["ann", 31], ["bob", 40]])
      const many = yield* sql.unsafe("select 1 as a; select 2 as b")
      expect(many).toEqual([[{ a: 1 }], [{ b: 2 }]])
    }).pipe(Effect.provide(SqlTest())))

  it.live("transformResultNames / transformQueryNames as in @effect/sql-pg", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`drop table if exists user_accounts cascade`
      yield* sql`create table ${sql("userAccounts")}(${sql("userId")} int, ${sql("fullName")} text)`
      yield* sql`insert into user_accounts ${sql.insert({ userId: 1, fullName: "Ann" })}`
      expect(yield* sql`select * from user_accounts`).toEqual([{ userId: 1, fullName: "Ann" }])
    }).pipe(Effect.provide(SqlTest({
      transformQueryNames: (s) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
      transformResultNames: (s) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())
    }))))

  it.live("SqlSchema findOne / findAll / void / single", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`drop table if exists people cascade`
      yield* sql`create table people(id serial primary key, name text not null, age int not null)`
      const insert = SqlSchema.void({
        Request: Schema.Struct({ name: Schema.String, age: Schema.Number }),
        execute: (p) => sql`insert into people ${sql.insert(p)}`
      })
      yield* insert({ name: "ann", age: 30 })
      yield* insert({ name: "bob", age: 40 })
      const Row = Schema.Struct({ id: Schema.Number, name: Schema.String, age: Schema.Number })
      const byName = SqlSchema.findOne({
        Request: Schema.String,
        Result: Row,
        execute: (name) => sql`select * from people where name = ${name}`
      })
      expect(Option.map(yield* byName("bob"), (p) => p.age)).toEqual(Option.some(40))
      expect(yield* byName("zed")).toEqual(Option.none())
      const all = SqlSchema.findAll({
        Request: Schema.Void,
        Result: Row,
        execute: () => sql`select * from people order by id`
      })
      expect((yield* all(undefined)).map((p) => p.name)).toEqual(["ann", "bob"])
      const single = SqlSchema.single({
        Request: Schema.Number,
        Result: Row,
        execute: (id) => sql`select * from people where id = ${id}`
      })
      expect((yield* single(1)).name).toBe("ann")
      expect(Exit.isFailure(yield* Effect.exit(single(99)))).toBe(true)
    }).pipe(Effect.provide(SqlTest())))

  it.live("SqlResolver batches lookups into one statement", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`drop table if exists people cascade`
      yield* sql`create table people(id int primary key, name text not null)`
      yield* sql`insert into people ${sql.insert([1, 2, 3].map((id) => ({ id, name: `p${id}` })))}`
      let statements = 0
      const resolver = yield* SqlResolver.findById("PersonById", {
        Id: Schema.Number,
        Result: Schema.Struct({ id: Schema.Number, name: Schema.String }),
        ResultId: (row) => row.id,
        execute: (ids) => {
          statements++
          return sql`select * from people where id in ${sql.in(ids)}`
        }
      })
      const found = yield* Effect.forEach([1, 2, 3, 4], (id) => resolver.execute(id), { batching: true })
      expect(found.map(Option.map((p) => p.name))).toEqual([
        Option.some("p1"),
        Option.some("p2"),
        Option.some("p3"),
        Option.none()
      ])
      expect(statements).toBe(1)
    }).pipe(Effect.provide(SqlTest())))

  it.live("a Model repository CRUD cycle", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`drop table if exists people cascade`
      yield* sql`create table people(id serial primary key, name text not null, age int not null)`
      const repo = yield* Model.makeRepository(Person, { tableName: "people", spanPrefix: "People", idColumn: "id" })
      const ann = yield* repo.insert(Person.insert.make({ name: "ann", age: 30 }))
      expect(ann.id).toBeTypeOf("number")
      const updated = yield* repo.update(Person.update.make({ id: ann.id, name: "ann", age: 31 }))
      expect(updated.age).toBe(31)
      expect(Option.map(yield* repo.findById(ann.id), (p) => p.age)).toEqual(Option.some(31))
      yield* repo.delete(ann.id)
      expect(yield* repo.findById(ann.id)).toEqual(Option.none())
    }).pipe(Effect.provide(SqlTest())))

  it.live("sql.withTransaction is a Berth transaction: rollback on failure, typed commit errors", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`drop table if exists t cascade`
      yield* sql`create table t(x int primary key)`
      const failed = yield* Effect.exit(
        sql.withTransaction(Effect.zipRight(sql`insert into t values (1)`, Effect.fail("no" as const)))
      )
      expect(failed).toEqual(Exit.fail("no"))
      yield* sql.withTransaction(sql.withTransaction(sql`insert into t values (2)`))
      expect(yield* sql`select x from t`).toEqual([{ x: 2 }])
      // A caught statement error makes COMMIT roll back: a typed SqlError, not a defect.
      const rolledBack = yield* Effect.exit(sql.withTransaction(Effect.ignore(sql`insert into t values (2)`)))
      expect(Exit.isFailure(rolledBack) && rolledBack.cause._tag === "Fail").toBe(true)
      if (Exit.isFailure(rolledBack) && rolledBack.cause._tag === "Fail") {
        const error = rolledBack.cause.error as { _tag: string; cause?: { _tag?: string } }
        expect(error._tag).toBe("SqlError")
        expect(error.cause?._tag).toBe("TxRolledBackError")
      }
    }).pipe(Effect.provide(SqlTest())))

  it.live("sql.reserve pins a connection; statement.stream streams rows", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const pids = yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* sql.reserve
        yield* conn.execute("create temporary table scratch(x int)", [], undefined)
        yield* conn.execute("insert into scratch values ($1)", [7], undefined)
        const rows = yield* conn.execute("select x, pg_backend_pid() as pid from scratch", [], undefined)
        return rows
      }))
      expect(pids[0]?.x).toBe(7)
      const streamed = yield* sql`select g from generate_series(1, 2500) g`.stream.pipe(Stream.runCollect)
      expect(Chunk.size(streamed)).toBe(2500)
      expect((yield* Db.stats).inUse).toBe(0)
    }).pipe(Effect.provide(SqlTest())))

  it.live("Migrator from @effect/sql and PgMigrator from @effect/sql-pg", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`drop table if exists people cascade`
      const loader = Migrator.fromRecord({
        "1_people": sql`create table people(id serial primary key, name text)`,
        "2_seed": sql`insert into people(name) values ('ann')`
      })
      const ran = yield* PgMigrator.run({ loader })
      expect(ran.map(([id]) => id)).toEqual([1, 2])
      expect(yield* PgMigrator.run({ loader })).toEqual([])
      expect(yield* sql`select name from people`).toEqual([{ name: "ann" }])
    }).pipe(Effect.provide(Layer.merge(SqlTest(), NodeContext.layer))))

  it.live("listen and notify through the PgClient-compatible service", () =>
    Effect.gen(function*() {
      const pg = yield* PgClient.PgClient
      const received = yield* pg.listen("berth \"test\"").pipe(Stream.take(3), Stream.runCollect, Effect.fork)
      // LISTEN must be in place before the first NOTIFY: notify until the listener has all three.
      yield* Effect.sleep("300 millis")
      yield* pg.notify("berth \"test\"", "one")
      yield* pg.notify("other", "ignored")
      yield* pg.notify("berth \"test\"", "two")
      yield* pg.notify("berth \"test\"", "three")
      const payloads = yield* Fiber.join(received).pipe(Effect.timeout("10 seconds"))
      expect(Chunk.toReadonlyArray(payloads)).toEqual(["one", "two", "three"])
      expect(pg.config.database).toBeTypeOf("string")
    }).pipe(Effect.provide(SqlTest())))

  it.live("a listen stream fails when its connection is lost", () =>
    Effect.gen(function*() {
      const pg = yield* PgClient.PgClient
      const sql = yield* SqlClient.SqlClient
      const fiber = yield* pg.listen("doomed").pipe(Stream.runDrain, Effect.fork)
      yield* Effect.sleep("300 millis")
      yield* sql`select pg_terminate_backend(pid) from pg_stat_activity where query = 'LISTEN "doomed"'`
      const exit = yield* Fiber.await(fiber).pipe(Effect.timeout("10 seconds"))
      expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error.message : "no typed failure")
        .toContain("was lost")
    }).pipe(Effect.provide(SqlTest())))
})
