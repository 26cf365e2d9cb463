import * as PgConnection from "@berth/pg/PgConnection"
import * as PgError from "@berth/pg/PgError"
import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import { Effect, Either, Fiber } from "effect"
import { connectTest } from "./helpers.js"

/** Fails the test when `effect` succeeds; otherwise its error, untouched. */
const mustFail = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<never, E, R> =>
  Effect.flatMap(effect, () => Effect.die(new Error("expected the statement to fail")))

/**
 * Runs `effect`, which must fail with a server error of tag `tag`, and returns that error as
 * narrowed by `Effect.catchTag`. Any other error (another tag) fails the test with that error.
 */
const caught = <A, R, K extends PgError.PgError["_tag"]>(effect: Effect.Effect<A, PgError.PgError, R>, tag: K) =>
  mustFail(effect).pipe(Effect.catchTag(tag, (e) => Effect.succeed(e)))

/** Asserts what every server error carries, beyond its tag. */
const expectServerError = (e: PgError.PgServerError, code: string, condition: PgError.ServerCondition) => {
  expect(PgError.isServerError(e)).toBe(true)
  expect(PgError.isServerError(e, condition)).toBe(true)
  expect(e.code).toBe(code)
  expect(e.condition).toBe(condition)
  expect(PgError.serverErrorTagOf(e.code)).toBe(e._tag)
  expect(e.message.length).toBeGreaterThan(0)
}

const fields = (code: string): PgError.ServerErrorFields => ({
  code,
  severity: "ERROR",
  severityNonLocalized: "ERROR",
  message: `failure ${code}`,
  detail: "detail",
  hint: undefined,
  position: 3,
  internalPosition: undefined,
  internalQuery: undefined,
  where: undefined,
  schema: "public",
  table: "t",
  column: "c",
  dataType: undefined,
  constraint: "t_c_key",
  file: "nbtinsert.c",
  line: 666,
  routine: "_bt_check_unique"
})

// The documented classification (docs/connection.md, "Errors"): SQLSTATE -> [tag, condition].
const documented: ReadonlyArray<readonly [string, PgError.ServerErrorTag, PgError.ServerCondition]> = [
  ["23505", "PgUniqueViolation", "UniqueViolation"],
  ["23503", "PgForeignKeyViolation", "ForeignKeyViolation"],
  ["23502", "PgNotNullViolation", "NotNullViolation"],
  ["23514", "PgCheckViolation", "CheckViolation"],
  ["23P01", "PgExclusionViolation", "ExclusionViolation"],
  ["40001", "PgSerializationFailure", "SerializationFailure"],
  ["40P01", "PgDeadlockDetected", "DeadlockDetected"],
  ["57014", "PgQueryCanceled", "QueryCanceled"],
  ["55P03", "PgLockNotAvailable", "LockNotAvailable"],
  ["57P01", "PgAdminShutdown", "AdminShutdown"],
  ["57P02", "PgAdminShutdown", "CrashShutdown"],
  ["57P03", "PgAdminShutdown", "CannotConnectNow"],
  ["08000", "PgConnectionException", "ConnectionException"],
  ["08003", "PgConnectionException", "ConnectionException"],
  ["08006", "PgConnectionException", "ConnectionException"],
  ["08P01", "PgConnectionException", "ConnectionException"],
  ["28000", "PgInvalidAuthorization", "InvalidAuthorization"],
  ["28P01", "PgInvalidAuthorization", "InvalidAuthorization"],
  ["42P01", "PgUndefinedTable", "UndefinedTable"],
  ["42703", "PgUndefinedColumn", "UndefinedColumn"],
  ["42601", "PgSyntaxError", "SyntaxError"],
  ["42501", "PgInsufficientPrivilege", "InsufficientPrivilege"],
  ["42883", "PgServerError", "UndefinedFunction"],
  ["22P02", "PgServerError", "InvalidTextRepresentation"],
  ["22012", "PgServerError", "Other"],
  ["25P02", "PgServerError", "Other"],
  ["57P04", "PgServerError", "Other"],
  ["23000", "PgServerError", "Other"],
  ["40000", "PgServerError", "Other"],
  ["XX000", "PgServerError", "Other"]
]

const classes: ReadonlyArray<new(props: PgError.ServerErrorProps) => PgError.PgServerError> = [
  PgError.PgUniqueViolation,
  PgError.PgForeignKeyViolation,
  PgError.PgNotNullViolation,
  PgError.PgCheckViolation,
  PgError.PgExclusionViolation,
  PgError.PgSerializationFailure,
  PgError.PgDeadlockDetected,
  PgError.PgQueryCanceled,
  PgError.PgLockNotAvailable,
  PgError.PgAdminShutdown,
  PgError.PgConnectionException,
  PgError.PgInvalidAuthorization,
  PgError.PgUndefinedTable,
  PgError.PgUndefinedColumn,
  PgError.PgSyntaxError,
  PgError.PgInsufficientPrivilege,
  PgError.PgOtherServerError
]

describe("server error classes", () => {
  it("every SQLSTATE maps to the documented tag and condition, with every field kept", () => {
    for (const [code, tag, condition] of documented) {
      const e = PgError.makeServerError(fields(code), "select 1")
      expect([code, e._tag, e.condition]).toEqual([code, tag, condition])
      expect(PgError.conditionOf(code)).toBe(condition)
      expect(PgError.serverErrorTagOf(code)).toBe(tag)
      expect(PgError.isServerError(e)).toBe(true)
      expect(PgError.isServerError(e, condition)).toBe(true)
      expect(PgError.isServerError(e, condition === "Other" ? "UniqueViolation" : "Other")).toBe(false)
      expect(PgError.isServerErrorTag(e._tag)).toBe(true)
      // exactly one class builds this tag, and the error is an instance of it
      const owners = classes.filter((C) => e instanceof C)
      expect(owners).toHaveLength(1)
      expect(new owners[0]!({ ...fields(code), condition, sql: undefined })._tag).toBe(tag)
      const given = fields(code)
      for (const key of Object.keys(given) as Array<keyof PgError.ServerErrorFields>) {
        expect([key, e[key]]).toEqual([key, given[key]])
      }
      expect(e.sql).toBe("select 1")
      expect(e).toBeInstanceOf(Error)
    }
  })

  it("the tag list is complete and is the set isServerError recognises", () => {
    const built = new Set(classes.map((C) => new C({ ...fields("XX000"), condition: "Other", sql: undefined })._tag))
    expect(new Set(PgError.serverErrorTags)).toEqual(built)
    expect(PgError.serverErrorTags).toHaveLength(classes.length)
    expect(PgError.serverErrorTags.at(-1)).toBe("PgServerError")
    for (const tag of ["PgConnectionError", "PgProtocolError", "PgTimeoutError", "PgAuthError", "PgInputError", 42]) {
      expect(PgError.isServerErrorTag(tag)).toBe(false)
    }
    // the tag alone is not enough: a look-alike object is not a server error
    expect(PgError.isServerError({ _tag: "PgUniqueViolation", code: "23505", condition: "UniqueViolation" })).toBe(
      false
    )
    expect(
      PgError.isServerError(new PgError.PgConnectionError({ message: "x", phase: "query", host: undefined, cause: 1 }))
    )
      .toBe(false)
    expect(PgError.isServerError(undefined)).toBe(false)
  })

  it("catchTag narrows each class, catchServerError takes the rest of the union", () =>
    Effect.gen(function*() {
      const fail = (code: string): Effect.Effect<string, PgError.PgError> =>
        Effect.fail(PgError.makeServerError(fields(code), "insert into t values (1)"))
      const handled = (code: string) =>
        fail(code).pipe(
          Effect.catchTag("PgUniqueViolation", (e) => {
            expectTypeOf(e).toEqualTypeOf<PgError.PgUniqueViolation>()
            return Effect.succeed(`unique ${e.constraint}`)
          }),
          Effect.catchTag("PgSerializationFailure", "PgDeadlockDetected", (e) => Effect.succeed(`retry ${e.code}`)),
          PgError.catchServerError((e) => Effect.succeed(`other ${e._tag} ${e.code}`))
        )
      // every server error left the error channel; only the non-server errors remain
      expectTypeOf(handled("23505")).toEqualTypeOf<
        Effect.Effect<string, Exclude<PgError.PgError, PgError.PgServerError>>
      >()
      expect(yield* handled("23505")).toBe("unique t_c_key")
      expect(yield* handled("40001")).toBe("retry 40001")
      expect(yield* handled("40P01")).toBe("retry 40P01")
      expect(yield* handled("22012")).toBe("other PgServerError 22012")
      expect(yield* handled("42P01")).toBe("other PgUndefinedTable 42P01")
      const notServer = yield* Effect.either(
        PgError.catchServerError(
          Effect.fail(new PgError.PgInputError({ message: "no", sql: undefined })),
          () => Effect.succeed("wrong")
        )
      )
      expect(Either.isLeft(notServer) && notServer.left._tag).toBe("PgInputError")
      const byCondition = yield* fail("23505").pipe(
        PgError.catchCondition("UniqueViolation", (e) => Effect.succeed(e._tag))
      )
      expect(byCondition).toBe("PgUniqueViolation")
    }))
})

describe("server errors from PostgreSQL carry their class", () => {
  it.scoped("integrity violations: unique, foreign key, not null, check, exclusion", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.simpleQuery(
        "create table iv_parent (id int primary key);" +
          "create table iv_child (id int primary key, parent int references iv_parent (id)," +
          " name text not null, qty int check (qty > 0));" +
          "create table iv_booking (during int4range, exclude using gist (during with &&));" +
          "insert into iv_parent values (1); insert into iv_child values (1, 1, 'a', 1);" +
          "insert into iv_booking values ('[1,10)')"
      )
      const unique = yield* caught(conn.query("insert into iv_child values ($1, 1, 'b', 1)", [1]), "PgUniqueViolation")
      expectTypeOf(unique).toEqualTypeOf<PgError.PgUniqueViolation>()
      expectServerError(unique, "23505", "UniqueViolation")
      expect([unique.table, unique.constraint, unique.sql]).toEqual([
        "iv_child",
        "iv_child_pkey",
        "insert into iv_child values ($1, 1, 'b', 1)"
      ])

      const fk = yield* caught(conn.query("insert into iv_child values (2, 99, 'b', 1)"), "PgForeignKeyViolation")
      expectServerError(fk, "23503", "ForeignKeyViolation")
      expect(fk.constraint).toBe("iv_child_parent_fkey")
      const fkDelete = yield* caught(conn.query("delete from iv_parent"), "PgForeignKeyViolation")
      expectServerError(fkDelete, "23503", "ForeignKeyViolation")

      const notNull = yield* caught(conn.query("insert into iv_child values (3, 1, null, 1)"), "PgNotNullViolation")
      expectServerError(notNull, "23502", "NotNullViolation")
      expect(notNull.column).toBe("name")

      const check = yield* caught(conn.query("update iv_child set qty = 0"), "PgCheckViolation")
      expectServerError(check, "23514", "CheckViolation")
      expect(check.constraint).toBe("iv_child_qty_check")

      const exclusion = yield* caught(conn.query("insert into iv_booking values ('[5,15)')"), "PgExclusionViolation")
      expectServerError(exclusion, "23P01", "ExclusionViolation")
      expect(exclusion.constraint).toBe("iv_booking_during_excl")

      // the connection is still fine after each of them
      expect((yield* conn.query("select count(*)::int as n from iv_child")).rows).toEqual([{ n: 1 }])
    }))

  it.scoped("undefined table, undefined column, syntax error; an unclassified code keeps PgServerError", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const table = yield* caught(conn.query("select * from no_such_table_here"), "PgUndefinedTable")
      expectServerError(table, "42P01", "UndefinedTable")
      expect(table.position).toBe(15)

      const column = yield* caught(conn.query("select no_such_column from (select 1 as a) s"), "PgUndefinedColumn")
      expectServerError(column, "42703", "UndefinedColumn")

      const syntax = yield* caught(conn.query("selec 1"), "PgSyntaxError")
      expectServerError(syntax, "42601", "SyntaxError")
      expect([syntax.position, syntax.sql]).toEqual([1, "selec 1"])
      const syntaxSimple = yield* caught(conn.simpleQuery("select 1; select from from"), "PgSyntaxError")
      expectServerError(syntaxSimple, "42601", "SyntaxError")

      const division = yield* caught(conn.query("select 1 / $1::int as x", [0]), "PgServerError")
      expectTypeOf(division).toEqualTypeOf<PgError.PgOtherServerError>()
      expect(division).toBeInstanceOf(PgError.PgOtherServerError)
      expectServerError(division, "22012", "Other")

      const fn = yield* caught(conn.query("select no_such_function_here()"), "PgServerError")
      expectServerError(fn, "42883", "UndefinedFunction")
    }))

  it.scoped("insufficient privilege for a role without grants", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const role = `berth_noprivs_${process.pid}_${Date.now()}`
      yield* Effect.acquireRelease(
        conn.simpleQuery(`create role ${role} nologin`),
        () => Effect.orDie(conn.simpleQuery(`reset role; drop role if exists ${role}`))
      )
      yield* conn.simpleQuery(`create table priv_secret (x int); set role ${role}`)
      const denied = yield* caught(conn.query("select x from priv_secret"), "PgInsufficientPrivilege")
      expectServerError(denied, "42501", "InsufficientPrivilege")
      yield* conn.simpleQuery("reset role")
      expect((yield* conn.query("select count(*)::int as n from priv_secret")).rows).toEqual([{ n: 0 }])
    }))

  it.scoped("query canceled by statement_timeout", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.simpleQuery("set statement_timeout = '50ms'")
      const canceled = yield* caught(conn.query("select pg_sleep(5)"), "PgQueryCanceled")
      expectServerError(canceled, "57014", "QueryCanceled")
      expect(PgConnection.isCanceled(canceled)).toBe(true)
      yield* conn.simpleQuery("reset statement_timeout")
      expect((yield* conn.query("select 1 as one")).rows).toEqual([{ one: 1 }])
    }))

  it.scoped("lock not available: NOWAIT and lock_timeout", () =>
    Effect.gen(function*() {
      const holder = yield* connectTest()
      const waiter = yield* connectTest()
      yield* holder.simpleQuery("create table lk (id int primary key); insert into lk values (1)")
      yield* holder.simpleQuery("begin; select * from lk where id = 1 for update")
      const nowait = yield* caught(
        waiter.query("select * from lk where id = 1 for update nowait"),
        "PgLockNotAvailable"
      )
      expectServerError(nowait, "55P03", "LockNotAvailable")
      yield* waiter.simpleQuery("set lock_timeout = '100ms'")
      const timedOut = yield* caught(waiter.query("update lk set id = 2 where id = 1"), "PgLockNotAvailable")
      expectServerError(timedOut, "55P03", "LockNotAvailable")
      yield* holder.simpleQuery("commit")
      expect((yield* waiter.query("update lk set id = 2 where id = 1")).rowCount).toBe(1)
    }))

  it.scoped("serialization failure between two overlapping serializable transactions", () =>
    Effect.gen(function*() {
      const a = yield* connectTest()
      const b = yield* connectTest()
      yield* a.simpleQuery(
        "create table ser (id int primary key, v int not null); insert into ser values (1, 0), (2, 0)"
      )
      // write skew: each reads the row the other one writes
      yield* a.simpleQuery("begin isolation level serializable; select v from ser where id = 1")
      yield* b.simpleQuery("begin isolation level serializable; select v from ser where id = 2")
      const steps = [
        a.simpleQuery("update ser set v = 1 where id = 2"),
        b.simpleQuery("update ser set v = 1 where id = 1"),
        a.simpleQuery("commit"),
        b.simpleQuery("commit")
      ]
      const outcomes: Array<string> = []
      for (const step of steps) {
        outcomes.push(
          yield* step.pipe(
            Effect.as("ok"),
            Effect.catchTag("PgSerializationFailure", (e) => {
              expectServerError(e, "40001", "SerializationFailure")
              return Effect.succeed(e._tag)
            })
          )
        )
      }
      // exactly one of the two transactions is aborted; the step that fails depends on when
      // the server detects the cycle (at b's update or at b's commit)
      expect(outcomes.filter((o) => o === "PgSerializationFailure")).toHaveLength(1)
      yield* b.simpleQuery("rollback")
      const rows = (yield* a.query("select id, v from ser order by id")).rows
      expect(rows.filter((r) => r.v === 1)).toHaveLength(1)
    }))

  it.scopedLive("deadlock detected between two connections", () =>
    Effect.gen(function*() {
      const a = yield* connectTest()
      const b = yield* connectTest()
      yield* a.simpleQuery("create table dl (id int primary key, v int); insert into dl values (1, 0), (2, 0)")
      yield* a.simpleQuery("set deadlock_timeout = '50ms'; begin; update dl set v = 1 where id = 1")
      yield* b.simpleQuery("set deadlock_timeout = '50ms'; begin; update dl set v = 2 where id = 2")
      const outcome = (conn: PgConnection.PgConnection, id: number) =>
        conn.query("update dl set v = 10 where id = $1", [id]).pipe(
          Effect.as("ok"),
          Effect.catchTag("PgDeadlockDetected", (e) => {
            expectServerError(e, "40P01", "DeadlockDetected")
            return Effect.succeed(e._tag)
          })
        )
      const fa = yield* Effect.fork(outcome(a, 2))
      yield* Effect.sleep("20 millis")
      const fb = yield* Effect.fork(outcome(b, 1))
      const results = yield* Fiber.join(Fiber.zip(fa, fb))
      // one of them is the victim; the other gets its lock once the victim's transaction aborts
      expect([...results].sort()).toEqual(["PgDeadlockDetected", "ok"])
      yield* a.simpleQuery("rollback")
      yield* b.simpleQuery("rollback")
    }))

  it.scopedLive("admin shutdown: pg_terminate_backend mid-query", () =>
    Effect.gen(function*() {
      const victim = yield* connectTest()
      const observer = yield* connectTest()
      const fiber = yield* Effect.fork(caught(victim.query("select pg_sleep(30)"), "PgAdminShutdown"))
      yield* Effect.sleep("200 millis")
      yield* observer.query("select pg_terminate_backend($1)", [victim.backendPid])
      const e = yield* Fiber.join(fiber)
      expectServerError(e, "57P01", "AdminShutdown")
      expect(e.severityNonLocalized).toBe("FATAL")
      expect(victim.isBroken).toBe(true)
    }))

  it.scoped("invalid authorization: a role that does not exist", () =>
    Effect.gen(function*() {
      const e = yield* caught(connectTest({ user: `berth_no_such_role_${process.pid}` }), "PgInvalidAuthorization")
      // 28000 under trust auth; a server that asks for a password first answers 28P01 (it does
      // not tell which of role or password was wrong)
      const code = e.code === "28P01" ? "28P01" : "28000"
      expectServerError(e, code, "InvalidAuthorization")
      expect(e.severityNonLocalized).toBe("FATAL")
    }))

  it.scoped("connection exception: the server's protocol_violation (08P01)", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      // the statement has two parameters and one is bound
      const e = yield* caught(conn.query("select $1::int + $2::int as n", [1]), "PgConnectionException")
      expectServerError(e, "08P01", "ConnectionException")
      expect((yield* conn.query("select 2 as n")).rows).toEqual([{ n: 2 }])
    }))
})
