import * as PgConnection from "@berth/pg/PgConnection"
import * as PgError from "@berth/pg/PgError"
import * as PgTypes from "@berth/pg/PgTypes"
import * as TestDatabase from "@berth/testing/TestDatabase"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Tracer } from "effect"
import * as Proxy from "./fixtures/proxy.js"
import { connectTest, testConfig, withObserver } from "./helpers.js"

const failure = <A>(effect: Effect.Effect<A, PgError.PgError>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    if (Exit.isSuccess(exit)) throw new Error("expected a failure")
    if (exit.cause._tag !== "Fail") throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
    return exit.cause.error
  })

describe("PgConnection queries", () => {
  it.scoped("runs an extended query with bound parameters", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const r = yield* conn.query("select $1::int + 1 as n, $2::text as s, null::int as z", [41, "x"])
      expect(r.rows).toEqual([{ n: 42, s: "x", z: null }])
      expect(r.command).toBe("SELECT")
      expect(r.rowCount).toBe(1)
      expect(r.fields.map((f) => f.name)).toEqual(["n", "s", "z"])
      expect(r.fields[0]!.dataTypeOid).toBe(23)
      expect(r.fields[0]!.format).toBe("text")
      expect(conn.transactionStatus).toBe("idle")
      expect(conn.backendPid).toBeGreaterThan(0)
      expect(conn.parameters.get("server_encoding")).toBe("UTF8")
      expect(conn.parameters.get("client_encoding")).toBe("UTF8")
    }))

  it.scoped("parameters are bound, never interpolated", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const evil = "'; drop table if exists x; --"
      const r = yield* conn.query("select $1::text as v", [evil])
      expect(r.rows[0]!.v).toBe(evil)
    }))

  it.scoped("rows as arrays, and duplicate column names", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const r = yield* conn.query("select 1 as a, 'two' as a", [], { rowMode: "array" })
      expect(r.rows).toEqual([[1, "two"]])
      const o = yield* conn.query("select 1 as a, 'two' as a")
      expect(o.rows).toEqual([{ a: "two" }])
      expect(o.fields).toHaveLength(2)
    }))

  it.scoped("every result owns its rows: empty results and multi-statement scripts share no arrays", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const none = yield* conn.query("select 1 as v where false")
      expect(none.rows).toEqual([])
      ;(none.rows as Array<unknown>).push({ v: "mutated by the caller" })
      const again = yield* conn.query("select 1 as v where false")
      expect(again.rows).toEqual([])
      const many = yield* conn.query("select g as v from generate_series(1, 40) g")
      expect(many.rows.map((r) => r.v)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
      const script = yield* conn.simpleQuery("select 1 as a where false; select 2 as b; select 3 as c where false")
      expect(script.map((r) => r.rows)).toEqual([[], [{ b: 2 }], []])
      expect(script[0]!.rows).not.toBe(script[2]!.rows)
    }))

  it.scoped("command tags and affected row counts", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const created = yield* conn.query("create table t (id int primary key, v text)")
      expect([created.command, created.rowCount]).toEqual(["CREATE TABLE", undefined])
      const ins = yield* conn.query("insert into t select g, 'v' || g from generate_series(1, 5) g")
      expect([ins.command, ins.rowCount]).toEqual(["INSERT", 5])
      const upd = yield* conn.query("update t set v = 'x' where id <= $1", [3])
      expect([upd.command, upd.rowCount]).toEqual(["UPDATE", 3])
      const del = yield* conn.query("delete from t where id = 5")
      expect([del.command, del.rowCount]).toEqual(["DELETE", 1])
      const ret = yield* conn.query("insert into t values (10, 'ten') returning id, v")
      expect(ret.rows).toEqual([{ id: 10, v: "ten" }])
      expect(ret.rowCount).toBe(1)
      const sel = yield* conn.query("select * from t order by id")
      expect([sel.command, sel.rowCount, sel.rows.length]).toEqual(["SELECT", 5, 5])
      const empty = yield* conn.query("")
      expect(empty.rows).toEqual([])
    }))

  it.scoped("simple query runs a multi-statement script with one result per statement", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const results = yield* conn.simpleQuery(
        "create temp table s (x int); insert into s values (1), (2); select x from s order by x; ; select 'a' as y"
      )
      expect(results.map((r) => r.command)).toEqual(["CREATE TABLE", "INSERT", "SELECT", "SELECT"])
      expect(results[1]!.rowCount).toBe(2)
      expect(results[2]!.rows).toEqual([{ x: 1 }, { x: 2 }])
      expect(results[3]!.rows).toEqual([{ y: "a" }])
      expect(yield* conn.simpleQuery("")).toEqual([])
    }))

  it.scoped("transaction status from every ReadyForQuery", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      expect(conn.transactionStatus).toBe("idle")
      yield* conn.query("begin")
      expect(conn.transactionStatus).toBe("transaction")
      yield* failure(conn.query("select 1/0"))
      expect(conn.transactionStatus).toBe("failed")
      const inFailed = yield* failure(conn.query("select 1"))
      expect(inFailed._tag === "PgServerError" && inFailed.code).toBe("25P02")
      yield* conn.query("rollback")
      expect(conn.transactionStatus).toBe("idle")
    }))

  it.scoped("notices and ParameterStatus are surfaced", () =>
    Effect.gen(function*() {
      const notices: Array<PgConnection.Notice> = []
      const conn = yield* connectTest({}, { onNotice: (n) => notices.push(n) })
      yield* conn.simpleQuery("do $$ begin raise notice 'hello %', 42; end $$")
      expect(notices.map((n) => [n.severity, n.message])).toEqual([["NOTICE", "hello 42"]])
      yield* conn.query("set application_name = 'berth-test-app'")
      expect(conn.parameters.get("application_name")).toBe("berth-test-app")
    }))

  it.scoped("application_name, options and startup parameters reach the server", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest({
        applicationName: "berth-app",
        options: "-c statement_timeout=12345",
        parameters: { search_path: "pg_catalog,public" }
      })
      const r = yield* conn.simpleQuery("show application_name; show statement_timeout; show search_path")
      expect(r.map((x) => String(Object.values(x.rows[0]!)[0]).replace(/ /g, ""))).toEqual([
        "berth-app",
        "12345ms",
        "pg_catalog,public"
      ])
    }))

  it.scoped("server errors carry every field, the SQL text, and never the parameter values", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.query("create table u (id int primary key, email text not null check (email <> ''))")
      yield* conn.query("insert into u values (1, 'a@example.com')")
      const secret = "very-secret-parameter-value"
      const dup = yield* failure(conn.query("insert into u values ($1, $2)", [1, secret]))
      expect(dup._tag).toBe("PgUniqueViolation")
      if (dup._tag !== "PgUniqueViolation") return
      expect(dup.code).toBe("23505")
      expect(dup.condition).toBe("UniqueViolation")
      expect(dup.severity).toBe("ERROR")
      expect(dup.severityNonLocalized).toBe("ERROR")
      expect(dup.table).toBe("u")
      expect(dup.schema).toBe("public")
      expect(dup.constraint).toBe("u_pkey")
      expect(dup.detail).toContain("already exists")
      expect(dup.file).toBeDefined()
      expect(dup.line).toBeGreaterThan(0)
      expect(dup.routine).toBeDefined()
      expect(dup.sql).toBe("insert into u values ($1, $2)")
      expect(JSON.stringify(dup)).not.toContain(secret)
      const nn = yield* failure(conn.query("insert into u values (2, null)"))
      expect(nn._tag === "PgNotNullViolation" && [nn.condition, nn.column]).toEqual(["NotNullViolation", "email"])
      const chk = yield* failure(conn.query("insert into u values (3, '')"))
      expect(chk._tag === "PgCheckViolation" && chk.condition).toBe("CheckViolation")
      const syntax = yield* failure(conn.query("selec 1"))
      expect(syntax._tag === "PgSyntaxError" && [syntax.condition, syntax.position]).toEqual(["SyntaxError", 1])
      const table = yield* failure(conn.query("select * from nope"))
      expect(table._tag === "PgUndefinedTable" && table.condition).toBe("UndefinedTable")
      const column = yield* failure(conn.query("select nope from u"))
      expect(column._tag === "PgUndefinedColumn" && column.condition).toBe("UndefinedColumn")
      const fn = yield* failure(conn.query("select * from (select 1) x where (select f_missing())"))
      expect(fn._tag === "PgServerError" && fn.condition).toBe("UndefinedFunction")
      const internal = yield* failure(
        conn.simpleQuery("do $$ begin execute 'select * from nope_internal'; end $$")
      )
      expect(internal._tag === "PgUndefinedTable" && internal.internalQuery).toBe("select * from nope_internal")
      expect(internal._tag === "PgUndefinedTable" && internal.where).toContain("PL/pgSQL")
      const caught = yield* conn.query("insert into u values (1, 'b')").pipe(
        Effect.as("inserted"),
        PgError.catchCondition("UniqueViolation", () => Effect.succeed("duplicate"))
      )
      expect(caught).toBe("duplicate")
      // the connection is still fine after all of that
      expect((yield* conn.query("select count(*)::int as n from u")).rows).toEqual([{ n: 1 }])
    }))

  it.scoped("bad input: too many parameters, count mismatch, NUL bytes, invalid UTF-8", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const many = yield* failure(conn.query("select 1", Array.from({ length: 65536 }, () => 1)))
      expect(many._tag).toBe("PgInputError")
      const mismatch = yield* failure(conn.query("select $1::int + $2::int", [1]))
      expect(mismatch._tag === "PgConnectionException" && mismatch.code).toBe("08P01")
      const nulParam = yield* failure(conn.query("select $1::text", ["a\u0000b"]))
      expect(nulParam._tag === "PgServerError" && nulParam.code).toBe("22021")
      const nulSql = yield* failure(conn.query("select 1\u0000"))
      expect(nulSql._tag).toBe("PgInputError")
      const nulSimple = yield* failure(conn.simpleQuery("select 1\u0000"))
      expect(nulSimple._tag).toBe("PgInputError")
      const badUtf8 = yield* failure(conn.query("select convert_from('\\xc3'::bytea, 'UTF8') as t"))
      expect(badUtf8._tag === "PgServerError" && badUtf8.code).toBe("22021")
      // 65535 parameters is the protocol's maximum and works
      const max = Array.from({ length: 65535 }, (_, i) => i)
      const placeholders = max.map((_, i) => `$${i + 1}::int`).join(",")
      const r = yield* conn.query(`select array_length(array[${placeholders}], 1) as n`, max)
      expect(r.rows).toEqual([{ n: 65535 }])
      expect((yield* conn.query("select 'still fine' as s")).rows).toEqual([{ s: "still fine" }])
    }))

  it.scoped("a 100 MB result row", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const r = yield* conn.query("select repeat('x', 100 * 1024 * 1024) as big, 7 as after")
      const row = r.rows[0] as { big: string; after: number }
      expect(row.big.length).toBe(100 * 1024 * 1024)
      expect(row.after).toBe(7)
      expect((yield* conn.query("select 1 as one")).rows).toEqual([{ one: 1 }])
    }), 120_000)

  it.scoped("COPY FROM STDIN through query() is refused by the client without desynchronising", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.query("create table c (x int)")
      const e = yield* failure(conn.simpleQuery("copy c from stdin"))
      expect(e._tag === "PgQueryCanceled" && e.code).toBe("57014")
      expect((yield* conn.query("select 3 as x")).rows).toEqual([{ x: 3 }])
      // COPY TO STDOUT: the data is skipped, the count is reported
      yield* conn.query("insert into c select generate_series(1, 1000)")
      const [out] = yield* conn.simpleQuery("copy c to stdout")
      expect([out!.command, out!.rowCount]).toEqual(["COPY", 1000])
      const ext = yield* conn.query("copy (select 1) to stdout")
      expect([ext.command, ext.rowCount]).toEqual(["COPY", 1])
      expect(conn.transactionStatus).toBe("idle")
    }))

  it.scopedLive(
    "pg_terminate_backend mid-query: typed error, broken connection, the process keeps working",
    () =>
      withObserver((observer) =>
        Effect.gen(function*() {
          const conn = yield* connectTest()
          const fiber = yield* Effect.fork(failure(conn.query("select pg_sleep(30)")))
          yield* Effect.sleep("200 millis")
          yield* observer.query("select pg_terminate_backend($1)", [conn.backendPid])
          const e = yield* fiber.await.pipe(Effect.flatten)
          expect(e._tag).toBe("PgAdminShutdown")
          if (e._tag === "PgAdminShutdown") expect([e.code, e.condition]).toEqual(["57P01", "AdminShutdown"])
          expect(conn.isBroken).toBe(true)
          const next = yield* failure(conn.query("select 1"))
          expect(next._tag).toBe("PgConnectionError")
          // terminated while idle: the next use reports it
          const idle = yield* connectTest()
          yield* observer.query("select pg_terminate_backend($1)", [idle.backendPid])
          yield* Effect.sleep("200 millis")
          const onIdle = yield* failure(idle.query("select 1"))
          expect(onIdle._tag).toBe("PgConnectionError")
          expect(idle.isBroken).toBe(true)
          expect((yield* observer.query("select 1 as ok")).rows).toEqual([{ ok: 1 }])
        })
      ),
    { timeout: 60_000 }
  )

  it.scopedLive("close sends Terminate: the backend goes away and the connection reports closed", () =>
    withObserver((observer) =>
      Effect.gen(function*() {
        const conn = yield* connectTest()
        const pid = conn.backendPid
        yield* conn.close
        expect(conn.isBroken).toBe(true)
        const e = yield* failure(conn.query("select 1"))
        expect(e._tag).toBe("PgConnectionError")
        let present = true
        for (let i = 0; i < 100 && present; i++) {
          const r = yield* observer.query("select count(*)::int as n from pg_stat_activity where pid = $1", [pid])
          present = r.rows[0]!.n === 1
          if (present) yield* Effect.sleep("20 millis")
        }
        expect(present).toBe(false)
      })
    ))

  it.scopedLive("LISTEN/NOTIFY notifications reach onNotification", () =>
    Effect.gen(function*() {
      const got: Array<PgConnection.Notification> = []
      const listener = yield* connectTest({}, { onNotification: (n) => got.push(n) })
      const sender = yield* connectTest()
      yield* listener.query("listen berth_channel")
      yield* sender.query("select pg_notify('berth_channel', $1)", ["hello"])
      // a notification arrives with the listener's next message exchange
      for (let i = 0; i < 50 && got.length === 0; i++) {
        yield* listener.query("select 1")
        if (got.length === 0) yield* Effect.sleep("10 millis")
      }
      expect(got.map((n) => [n.channel, n.payload, n.pid])).toEqual([["berth_channel", "hello", sender.backendPid]])
    }))

  it.scoped("a throwing notice callback does not break the connection", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest({}, {
        onNotice: () => {
          throw new Error("callback bug")
        }
      })
      yield* conn.simpleQuery("do $$ begin raise notice 'x'; end $$")
      expect(conn.isBroken).toBe(false)
      expect((yield* conn.query("select 1 as one")).rows).toEqual([{ one: 1 }])
    }))

  it.scoped("queued statements are isolated: one failing does not affect the others", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const results = yield* Effect.all(
        Array.from({ length: 30 }, (_, i) =>
          Effect.either(i % 3 === 0 ? conn.query("select 1/0") : conn.query("select $1::int as i", [i]))),
        { concurrency: "unbounded" }
      )
      results.forEach((r, i) => {
        if (i % 3 === 0) {
          expect(r._tag === "Left" && r.left._tag === "PgServerError" && r.left.code).toBe("22012")
        } else expect(r._tag === "Right" && r.right.rows[0]!.i).toBe(i)
      })
    }))

  it.scoped("large parameters and statements (writer growth)", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const big = "é".repeat(20 * 1024 * 1024)
      const r = yield* conn.query("select length($1::text) as n, octet_length($1::text) as b", [big])
      expect(r.rows).toEqual([{ n: big.length, b: big.length * 2 }])
      const bytes = new Uint8Array(5 * 1024 * 1024).map((_, i) => i % 251)
      const r2 = yield* conn.query("select length($1::bytea) as n, md5($1::bytea) as h", [bytes])
      expect(r2.rows[0]!.n).toBe(bytes.length)
      const longSql = `select ${Array.from({ length: 1600 }, (_, i) => `${i} as c${i}`).join(", ")}`
      const r3 = yield* conn.query(longSql, [], { rowMode: "array" })
      expect(r3.rows[0]!.length).toBe(1600)
    }), 120_000)

  it.scopedLive("closing the scope sends Terminate and frees the backend", () =>
    withObserver((observer) =>
      Effect.gen(function*() {
        const pid = yield* Effect.scoped(Effect.map(connectTest(), (c) => c.backendPid))
        let present = true
        for (let i = 0; i < 100 && present; i++) {
          const r = yield* observer.query("select count(*)::int as n from pg_stat_activity where pid = $1", [pid])
          present = r.rows[0]!.n === 1
          if (present) yield* Effect.sleep("20 millis")
        }
        expect(present).toBe(false)
      })
    ))

  it.scoped("connect is traced as pg.connect, without the password", () =>
    Effect.gen(function*() {
      const spans: Array<Tracer.Span> = []
      // the harness's real password when it has one (the embedded server uses SCRAM)
      const secret = TestDatabase.current().password || "span-secret-value"
      yield* Effect.tracerWith((base) =>
        connectTest({ password: secret }).pipe(
          Effect.withTracer(
            Tracer.make({
              span: (...args) => {
                const span = base.span(...args)
                spans.push(span)
                return span
              },
              context: base.context
            })
          )
        )
      )
      const span = spans.find((s) => s.name === "pg.connect")
      expect(span).toBeDefined()
      const attributes = Object.fromEntries(span!.attributes)
      expect(attributes["db.system.name"]).toBe("postgresql")
      expect(attributes["db.postgresql.backend_pid"]).toBeGreaterThan(0)
      expect(JSON.stringify(attributes)).not.toContain(secret)
    }))

  it.scoped("a value the registry cannot decode fails the statement, not the connection", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest({}, { types: PgTypes.make({ int8: "number" }) })
      const e = yield* failure(conn.query("select x::int8 as v from (values (1), (9007199254740993)) t(x)"))
      expect(e._tag).toBe("PgDecodeError")
      expect(conn.isBroken).toBe(false)
      expect((yield* conn.query("select 5::int8 as v")).rows).toEqual([{ v: 5 }])
      const custom = yield* connectTest({}, {
        types: PgTypes.withCodecs(PgTypes.defaultRegistry, [{
          oid: 25,
          name: "text",
          decodeText: () => {
            throw new Error("codec bug")
          }
        }])
      })
      const e2 = yield* failure(custom.query("select 'a'::text as t"))
      expect(e2._tag).toBe("PgDecodeError")
      expect((yield* custom.query("select 1 as one")).rows).toEqual([{ one: 1 }])
    }))

  it.live(
    "framing survives server data split at every possible boundary (fragmenting proxy)",
    () =>
      Effect.gen(function*() {
        const db = TestDatabase.current()
        const proxy = yield* Effect.promise(() => Proxy.start({ host: db.host, port: db.port }, { fragment: 7 }))
        yield* Effect.scoped(Effect.gen(function*() {
          const notices: Array<string> = []
          const conn = yield* PgConnection.connect(testConfig({ host: "127.0.0.1", port: proxy.port }), {
            onNotice: (n) => notices.push(n.message)
          })
          for (let i = 0; i < 20; i++) {
            const n = 1 + i * 11
            const r = yield* conn.query(
              "select g, repeat('é', g % 50) as s, case when g % 3 = 0 then null else g::text end as t from generate_series(1, $1::int) g",
              [n]
            )
            expect(r.rows.length).toBe(n)
            expect(r.rows[n - 1]).toEqual({ g: n, s: "é".repeat(n % 50), t: n % 3 === 0 ? null : String(n) })
            const e = yield* Effect.flip(conn.query("select 1/0"))
            expect(e._tag === "PgServerError" && e.code).toBe("22012")
          }
          yield* conn.simpleQuery("do $$ begin raise notice 'fragmented'; end $$; select 1")
          expect(notices).toEqual(["fragmented"])
          const big = yield* conn.query("select repeat('x', 100000) as big")
          expect((big.rows[0]!.big as string).length).toBe(100000)
        }))
        yield* Effect.promise(() => proxy.close())
      }),
    120_000
  )

  it.scoped("changing client_encoding away from UTF8 closes the connection with a typed error", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const e = yield* failure(conn.query("set client_encoding = 'LATIN1'"))
      expect(e._tag).toBe("PgConnectionError")
      expect(e.message).toContain("client_encoding")
      expect(conn.isBroken).toBe(true)
    }))
})
