import { Db } from "@berth/sql"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Layer, Option, Schema } from "effect"
import { createTable, DbTest, eventually, url } from "./util.js"

describe("Db", () => {
  it.live("building the layer fails fast with DbUnavailableError when the database is unreachable", () =>
    Effect.gen(function*() {
      const exit = yield* Layer.launch(
        Db.layer({ url: "postgres://nobody:secret-pw@127.0.0.1:1/none?connect_timeout=2" })
      ).pipe(
        Effect.timeout("20 seconds"),
        Effect.exit
      )
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
        const error = exit.cause.error as { _tag: string; message: string }
        expect(error._tag).toBe("DbUnavailableError")
        expect(error.message).toContain("127.0.0.1:1/none")
        expect(error.message).not.toContain("secret-pw")
      } else {
        expect.fail(`expected a typed failure, got ${String(exit)}`)
      }
    }))

  it.live("query, queryOne, querySingle, execute and querySchema", () =>
    Effect.gen(function*() {
      yield* createTable("items", "id int primary key, name text not null")
      expect(yield* Db.execute("insert into items values (1, 'a'), (2, 'b'), (3, 'c')")).toBe(3)
      const rows = yield* Db.query("select id, name from items where id >= $1 order by id", [2])
      expect(rows).toEqual([{ id: 2, name: "b" }, { id: 3, name: "c" }])
      expect(yield* Db.queryOne("select name from items where id = $1", [1])).toEqual(Option.some({ name: "a" }))
      expect(yield* Db.queryOne("select name from items where id = $1", [9])).toEqual(Option.none())
      expect(yield* Db.querySingle("select name from items where id = $1", [3])).toEqual({ name: "c" })
      const none = yield* Effect.flip(Db.querySingle("select name from items where id > $1", [0]))
      expect(none._tag).toBe("RowCountError")
      const Item = Schema.Struct({ id: Schema.Number, name: Schema.String })
      expect(yield* Db.querySchema(Item, "select id, name from items order by id limit 1")).toEqual([{
        id: 1,
        name: "a"
      }])
      expect(yield* Db.queryOneSchema(Item, "select id, name from items where id = $1", [2])).toEqual(
        Option.some({ id: 2, name: "b" })
      )
      expect(yield* Db.querySingleSchema(Item, "select id, name from items where id = $1", [3])).toEqual({
        id: 3,
        name: "c"
      })
      const bad = yield* Effect.flip(Db.querySchema(Schema.Struct({ id: Schema.String }), "select id from items"))
      expect(bad._tag).toBe("ParseError")
      const stats = yield* Db.stats
      expect(stats.inUse).toBe(0)
    }).pipe(Effect.provide(DbTest())))

  it.live("a server error is typed with its SQLSTATE and the statement, never the parameters", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Db.query("select 1 / $1::int as x, $2::text as secret", [0, "p4ssw0rd"]))
      expect(error._tag).toBe("PgServerError")
      expect((error as { code?: string }).code).toBe("22012")
      expect(JSON.stringify(error)).not.toContain("p4ssw0rd")
    }).pipe(Effect.provide(DbTest())))

  it.live("a connection returned inside a transaction is rolled back, never handed on in it", () =>
    Effect.gen(function*() {
      yield* createTable("t", "x int")
      // Leave a transaction open on a leased connection, holding a row lock.
      yield* Db.withConnection((conn) => conn.simpleQuery("begin; insert into t values (1)"))
      const rows = yield* Db.withConnection((conn) =>
        Effect.map(
          conn.query("select count(*)::int as n from t"),
          (r) => ({ n: r.rows[0]?.n, status: conn.transactionStatus })
        )
      )
      expect(rows).toEqual({ n: 0, status: "idle" })
    }).pipe(Effect.provide(DbTest({ maxOpen: 1 }))))

  it.live("resetOnRelease runs DISCARD ALL: session settings do not leak to the next user", () =>
    Effect.gen(function*() {
      yield* Db.withConnection((conn) => conn.simpleQuery("set application_name = 'leaky'"))
      const rows = yield* Db.query("select current_setting('application_name') as name")
      expect(rows[0]?.name).not.toBe("leaky")
    }).pipe(Effect.provide(DbTest({ maxOpen: 1, resetOnRelease: true }))))

  it.live("interrupting a statement cancels it on the server and the connection is reused", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Db.query("select pg_sleep(30)"))
      const running = yield* eventually(Effect.map(
        Db.query(
          "select count(*)::int as n from pg_stat_activity where query = 'select pg_sleep(30)' and state = 'active'"
        ),
        (rows) => rows[0]?.n === 1
      ))
      expect(running).toBe(true)
      const started = Date.now()
      yield* Fiber.interrupt(fiber)
      expect(Date.now() - started).toBeLessThan(Duration.toMillis("20 seconds"))
      const gone = yield* eventually(Effect.map(
        Db.query(
          "select count(*)::int as n from pg_stat_activity where query = 'select pg_sleep(30)' and state = 'active'"
        ),
        (rows) => rows[0]?.n === 0
      ))
      expect(gone).toBe(true)
      expect(yield* Db.query("select 1 as one")).toEqual([{ one: 1 }])
      const stats = yield* Db.stats
      expect(stats.inUse).toBe(0)
    }).pipe(Effect.provide(DbTest({ maxOpen: 2 }))))

  it.live("a terminated backend is not handed out again", () =>
    Effect.gen(function*() {
      const pid = (yield* Db.query("select pg_backend_pid() as pid"))[0]?.pid
      yield* Db.withConnection((conn) =>
        Effect.flatMap(
          Effect.scoped(Db.query("select pg_terminate_backend($1::int)", [pid]).pipe(Effect.provide(DbTest()))),
          () => Effect.void
        ).pipe(Effect.zipRight(Effect.ignore(conn.query("select 1"))))
      )
      expect(yield* Db.query("select 1 as one")).toEqual([{ one: 1 }])
    }).pipe(Effect.provide(DbTest({ maxOpen: 1 }))))

  it.live("the url is used as is", () => Effect.sync(() => expect(url()).toMatch(/^postgres/)))
})
