import type * as PgConnection from "@berth/pg/PgConnection"
import type * as PgError from "@berth/pg/PgError"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, FastCheck as fc, Fiber } from "effect"
import { connectTest } from "./helpers.js"

const failure = <A>(effect: Effect.Effect<A, PgError.PgError>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    if (Exit.isSuccess(exit)) throw new Error("expected a failure")
    if (exit.cause._tag !== "Fail") throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
    return exit.cause.error
  })

/** The session's prepared statements, read with the simple protocol (which sends no Close). */
const prepared = (conn: PgConnection.PgConnection) =>
  Effect.map(
    conn.simpleQuery("select name, statement from pg_prepared_statements order by name"),
    (r) => r[0]!.rows.map((row) => String(row.statement))
  )

const mixed = "select $1::int as i, $2::text as t, $3::int8 as b, $4::float8 as f, $5::bool as o, " +
  "$6::timestamptz as ts, $7::numeric as n, $8::bytea as y, $9::int4[] as a, $10::uuid as u, $11::jsonb as j"

describe("automatic prepared-statement cache", () => {
  it.scoped("the first execution parses and runs in text; later ones bind the named statement with binary columns", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const params = [
        7,
        "x",
        9007199254740993n,
        1.5,
        true,
        new Date("2024-02-29T12:34:56.789Z"),
        "123.4500",
        new Uint8Array([0, 1, 255]),
        [1, null, 3],
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        { k: [1, "two"] }
      ]
      const first = yield* conn.query(mixed, params)
      expect(first.fields.every((f) => f.format === "text")).toBe(true)
      const second = yield* conn.query(mixed, params)
      const formats = Object.fromEntries(second.fields.map((f) => [f.name, f.format]))
      // what the registry prefers: binary for fixed-width numbers, time, bytea, uuid; text for text
      expect(formats.i).toBe("binary")
      expect(formats.ts).toBe("binary")
      expect(formats.y).toBe("binary")
      expect(formats.t).toBe("text")
      // both formats decode to the same values
      expect(second.rows).toEqual(first.rows)
      expect(first.rows[0]!.b).toBe(9007199254740993n)
      expect(first.rows[0]!.y).toEqual(new Uint8Array([0, 1, 255]))
      const again = yield* conn.query(mixed, params, { rowMode: "array" })
      expect(again.rows[0]).toEqual(Object.values(first.rows[0]!))
      expect(yield* prepared(conn)).toEqual([mixed])
    }))

  it.scoped("the cache key includes the parameter types", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const sql = "select $1 as v"
      // a string is sent untyped (the server infers text), bytes as bytea: two statements
      expect((yield* conn.query(sql, ["ab"])).rows[0]!.v).toBe("ab")
      expect((yield* conn.query(sql, [new Uint8Array([1])])).rows[0]!.v).toEqual(new Uint8Array([1]))
      expect((yield* conn.query(sql, ["cd"])).rows[0]!.v).toBe("cd")
      expect(yield* prepared(conn)).toEqual([sql, sql])
    }))

  it.scoped("LRU eviction closes the evicted statements on the server", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest({}, { statementCache: 2 })
      const q = (n: number) => `select ${n} as n`
      for (const n of [1, 2, 3, 4, 5]) expect((yield* conn.query(q(n))).rows).toEqual([{ n }])
      // 3 and 4 cached, 5 too (it evicted 3); the Close of 3 waits for the next statement
      expect(yield* prepared(conn)).toEqual([q(3), q(4), q(5)])
      expect((yield* conn.query(q(4))).rows).toEqual([{ n: 4 }]) // a hit: 4 is now most recent
      expect(yield* prepared(conn)).toEqual([q(4), q(5)])
      yield* conn.query(q(6)) // evicts 5, the least recently used
      yield* conn.query(q(4))
      expect(yield* prepared(conn)).toEqual([q(4), q(6)])
    }))

  it.scoped("property: any sequence of statements gets the right results, the server never holds more than capacity + 1", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest({}, { statementCache: 3 })
      const run = (ops: ReadonlyArray<readonly [number, number]>) =>
        Effect.gen(function*() {
          for (const [k, v] of ops) {
            const r = yield* conn.query(`select $1::int + ${k} as v`, [v])
            expect(r.rows).toEqual([{ v: v + k }])
          }
          expect((yield* prepared(conn)).length).toBeLessThanOrEqual(4)
        })
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.array(fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: -1000, max: 1000 })), {
              maxLength: 40
            }),
            (ops) => Effect.runPromise(run(ops))
          ),
          { numRuns: 30 }
        )
      )
    }))

  it.scoped("a result type changed by ALTER TABLE: re-prepared transparently outside a transaction", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.query("create temp table t (id int, v int)")
      yield* conn.query("insert into t values (1, 10)")
      const sql = "select * from t where id = $1"
      expect((yield* conn.query(sql, [1])).rows).toEqual([{ id: 1, v: 10 }])
      expect((yield* conn.query(sql, [1])).rows).toEqual([{ id: 1, v: 10 }])
      yield* conn.query("alter table t alter column v type text")
      expect((yield* conn.query(sql, [1])).rows).toEqual([{ id: 1, v: "10" }])
      yield* conn.query("alter table t add column w bool default true")
      expect((yield* conn.query(sql, [1])).rows).toEqual([{ id: 1, v: "10", w: true }])
      expect((yield* conn.query(sql, [1])).fields.map((f) => f.format)).toEqual(["binary", "text", "binary"])
      expect((yield* prepared(conn)).filter((s) => s === sql)).toHaveLength(1)
    }))

  it.scoped("inside a transaction the stale-plan error reaches the caller (the transaction is aborted); the next try works", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.query("create temp table t (id int, v int)")
      yield* conn.query("insert into t values (1, 10)")
      const sql = "select v from t"
      yield* conn.query(sql)
      yield* conn.query(sql)
      yield* conn.simpleQuery("begin; alter table t alter column v type text")
      const e = yield* failure(conn.query(sql))
      expect(e._tag === "PgServerError" && e.code).toBe("0A000")
      expect(conn.transactionStatus).toBe("failed")
      yield* conn.simpleQuery("rollback")
      expect((yield* conn.query(sql)).rows).toEqual([{ v: 10 }])
      // the statement was invalidated by the error, so the rolled-back schema got a fresh Parse;
      // a statement first used inside the transaction is simply parsed there
      yield* conn.simpleQuery("begin; alter table t alter column v type text")
      expect((yield* conn.query("select v, id from t")).rows).toEqual([{ v: "10", id: 1 }])
      yield* conn.simpleQuery("commit")
      expect((yield* conn.query("select v, id from t")).rows).toEqual([{ v: "10", id: 1 }])
    }))

  it.scoped("DISCARD ALL / DEALLOCATE ALL (simple or extended) and a DEALLOCATE of one cached name", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const sql = "select $1::int as n"
      yield* conn.query(sql, [1])
      yield* conn.simpleQuery("discard all")
      expect(yield* prepared(conn)).toEqual([])
      expect((yield* conn.query(sql, [2])).rows).toEqual([{ n: 2 }])
      expect((yield* conn.query(sql, [3])).rows).toEqual([{ n: 3 }])
      yield* conn.query("deallocate all")
      expect(yield* prepared(conn)).toEqual([])
      expect((yield* conn.query(sql, [4])).rows).toEqual([{ n: 4 }])
      // a statement dropped behind the cache's back: 26000 on Bind, re-prepared and retried once
      const names = yield* conn.simpleQuery("select name from pg_prepared_statements")
      for (const row of names[0]!.rows) yield* conn.simpleQuery(`deallocate "${String(row.name)}"`)
      expect((yield* conn.query(sql, [5])).rows).toEqual([{ n: 5 }])
      expect(yield* prepared(conn)).toEqual([sql])
    }))

  it.scoped("a statement that fails to parse is not cached; one that fails to bind is", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const bad = yield* failure(conn.query("selec 1"))
      expect(bad._tag === "PgSyntaxError" && bad.code).toBe("42601")
      expect(yield* prepared(conn)).toEqual([])
      const bind = yield* failure(conn.query("select $1::int as n", ["x"]))
      expect(bind._tag === "PgServerError" && bind.code).toBe("22P02")
      expect(yield* prepared(conn)).toEqual(["select $1::int as n"])
      expect((yield* conn.query("select $1::int as n", ["5"])).rows).toEqual([{ n: 5 }])
      // statements without a result (NoData) are cached too
      yield* conn.query("create temp table x (a int)")
      yield* conn.query("insert into x values ($1)", [1])
      expect((yield* conn.query("insert into x values ($1)", [2])).rowCount).toBe(1)
      expect(yield* prepared(conn)).toContain("insert into x values ($1)")
    }))

  it.scoped("unnamed mode prepares nothing on the server and reads every column as text", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest({}, { statementCache: "unnamed" })
      for (let i = 0; i < 3; i++) {
        const r = yield* conn.query("select $1::int as n, now() as t", [i])
        expect(r.rows[0]!.n).toBe(i)
        expect(r.fields.map((f) => f.format)).toEqual(["text", "text"])
      }
      expect(yield* prepared(conn)).toEqual([])
    }))

  it.effect("an invalid capacity is a typed error", () =>
    Effect.gen(function*() {
      for (const statementCache of [0, -1, 1.5, Number.NaN]) {
        const e = yield* failure(Effect.scoped(connectTest({}, { statementCache })))
        expect(e._tag).toBe("PgInputError")
      }
    }))

  it.scopedLive("interrupting a first execution (Parse in flight) leaves the cache and the connection consistent", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const sql = "select pg_sleep($1::float8) as s, 1 as one"
      const fiber = yield* Effect.fork(conn.query(sql, [30]))
      yield* Effect.sleep("200 millis")
      yield* Fiber.interrupt(fiber)
      yield* conn.awaitReady
      expect(conn.isBroken).toBe(false)
      // the statement was parsed and described before the cancel hit its execution: it is cached
      expect((yield* conn.query(sql, [0])).rows).toEqual([{ s: "", one: 1 }])
      const second = yield* conn.query(sql, [0])
      expect(second.fields.map((f) => f.format)).toEqual(["text", "binary"])
      expect(yield* prepared(conn)).toEqual([sql])
    }))

  it.scoped("a cached statement in a failed transaction: the error is the transaction's, the cache is intact", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const sql = "select $1::int as n"
      yield* conn.query(sql, [1])
      yield* conn.simpleQuery("begin")
      yield* failure(conn.query("select 1/0"))
      const e = yield* failure(conn.query(sql, [2]))
      expect(e._tag === "PgServerError" && e.code).toBe("25P02")
      yield* conn.simpleQuery("rollback")
      expect((yield* conn.query(sql, [3])).rows).toEqual([{ n: 3 }])
      expect(yield* prepared(conn)).toEqual([sql, "select 1/0"].sort())
    }))
})
