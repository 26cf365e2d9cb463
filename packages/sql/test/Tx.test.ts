import { Db, Retry, Tx } from "@berth/sql"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option, Random, Schedule } from "effect"
import { createTable, DbTest, otherSessions, proxy } from "./util.js"

const count = (table: string) =>
  Effect.map(Db.query(`select count(*)::int as n from ${table}`), (rows) => Number(rows[0]?.n))

describe("Tx", () => {
  it.live("commits on success, rolls back on failure and on interruption", () =>
    Effect.gen(function*() {
      yield* createTable("t", "x int")
      yield* Tx.transaction(Db.execute("insert into t values (1)"))
      expect(yield* count("t")).toBe(1)
      const failed = yield* Effect.exit(Tx.transaction(
        Effect.zipRight(Db.execute("insert into t values (2)"), Effect.fail("boom" as const))
      ))
      expect(failed).toEqual(Exit.fail("boom"))
      expect(yield* count("t")).toBe(1)
      const died = yield* Effect.exit(
        Tx.transaction(Effect.zipRight(Db.execute("insert into t values (3)"), Effect.die("bug")))
      )
      expect(Exit.isFailure(died)).toBe(true)
      const inserted = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(Tx.transaction(Effect.gen(function*() {
        yield* Db.execute("insert into t values (4)")
        yield* Deferred.succeed(inserted, undefined)
        yield* Db.query("select pg_sleep(30)")
      })))
      yield* Deferred.await(inserted)
      yield* Effect.sleep("100 millis")
      yield* Fiber.interrupt(fiber)
      expect(yield* count("t")).toBe(1)
      expect(yield* otherSessions("idle in transaction")).toBe(0)
      expect((yield* Db.stats).inUse).toBe(0)
    }).pipe(Effect.provide(DbTest())))

  it.live("isolation level, read only and SET LOCAL timeouts apply to the transaction only", () =>
    Effect.gen(function*() {
      const level = yield* Tx.transaction(Db.query("show transaction_isolation"), { isolation: "serializable" })
      expect(level[0]?.transaction_isolation).toBe("serializable")
      const readOnly = yield* Effect.flip(Tx.transaction(createTable("nope", "x int"), { readOnly: true }))
      expect((readOnly as { code?: string }).code).toBe("25006")
      const timedOut = yield* Effect.flip(
        Tx.transaction(Db.query("select pg_sleep(5)"), { statementTimeout: "100 millis" })
      )
      expect((timedOut as { code?: string }).code).toBe("57014")
      const after = yield* Db.query("show statement_timeout")
      expect(after[0]?.statement_timeout).toBe("0")
      const invalid = yield* Effect.flip(Tx.transaction(Effect.void, { deferrable: true }))
      expect(invalid._tag).toBe("TxOptionsError")
    }).pipe(Effect.provide(DbTest({ maxOpen: 1 }))))

  it.live("nested transactions are savepoints: an inner failure rolls back only the inner work", () =>
    Effect.gen(function*() {
      yield* createTable("t", "x int")
      yield* Tx.transaction(Effect.gen(function*() {
        yield* Db.execute("insert into t values (1)")
        const inner = yield* Effect.exit(Tx.transaction(
          Effect.zipRight(Db.execute("insert into t values (2)"), Db.query("select 1/0"))
        ))
        expect(Exit.isFailure(inner)).toBe(true)
        yield* Tx.transaction(Db.execute("insert into t values (3)"))
      }))
      const rows = yield* Db.query("select x from t order by x")
      expect(rows).toEqual([{ x: 1 }, { x: 3 }])
    }).pipe(Effect.provide(DbTest())))

  it.live("a sibling fiber's statement never lands inside another fiber's savepoint", () =>
    Effect.gen(function*() {
      yield* createTable("t", "x int")
      yield* Tx.transaction(Effect.gen(function*() {
        const inSavepoint = yield* Deferred.make<void>()
        const savepoint = yield* Effect.fork(Effect.exit(Tx.transaction(Effect.gen(function*() {
          yield* Db.execute("insert into t values (1)")
          yield* Deferred.succeed(inSavepoint, undefined)
          yield* Effect.sleep("200 millis")
          return yield* Effect.fail("inner fails")
        }))))
        yield* Deferred.await(inSavepoint)
        // Runs while the savepoint is open: it must wait, not join the savepoint.
        yield* Db.execute("insert into t values (2)")
        yield* Fiber.join(savepoint)
      }))
      expect(yield* Db.query("select x from t order by x")).toEqual([{ x: 2 }])
    }).pipe(Effect.provide(DbTest())))

  it.live("a statement inside Db.withConnection never waits for a sibling's savepoint that waits for it", () =>
    Effect.gen(function*() {
      yield* createTable("t", "x int")
      const outcome = yield* Tx.transaction(Effect.gen(function*() {
        const holding = yield* Deferred.make<void>()
        const go = yield* Deferred.make<void>()
        // holds the transaction's connection, then runs a statement of its own inside
        const outer = yield* Effect.fork(Db.withConnection(() =>
          Effect.gen(function*() {
            yield* Deferred.succeed(holding, undefined)
            yield* Deferred.await(go)
            return yield* Db.query("select 1 as inner_ran")
          })
        ))
        yield* Deferred.await(holding)
        // a savepoint asks for the transaction while the outer hold is taken
        const savepoint = yield* Effect.fork(Tx.transaction(Db.execute("insert into t values (1)")))
        yield* Effect.sleep("50 millis")
        yield* Deferred.succeed(go, undefined)
        const inner = yield* Fiber.join(outer)
        yield* Fiber.join(savepoint)
        return inner
      })).pipe(Effect.timeoutOption("5 seconds"))
      expect(outcome).toEqual(Option.some([{ inner_ran: 1 }]))
      expect(yield* count("t")).toBe(1)
    }).pipe(Effect.provide(DbTest())))

  it.live("a savepoint waiting for a sibling's long statement can be interrupted", () =>
    Effect.gen(function*() {
      yield* Tx.transaction(Effect.gen(function*() {
        const long = yield* Effect.fork(Db.query("select pg_sleep(3)"))
        yield* Effect.sleep("100 millis")
        const started = Date.now()
        const savepoint = yield* Tx.transaction(Db.query("select 1")).pipe(Effect.timeoutOption("200 millis"))
        expect(savepoint._tag).toBe("None")
        // it gave up at its timeout instead of waiting for the 3 s statement
        expect(Date.now() - started).toBeLessThan(2000)
        yield* Fiber.join(long)
        // and the transaction is still usable
        expect(yield* Db.query("select 2 as after")).toEqual([{ after: 2 }])
      }))
    }).pipe(Effect.provide(DbTest())))

  it.live("concurrent nested transactions in one transaction are serialized, never clash", () =>
    Effect.gen(function*() {
      yield* createTable("t", "x int")
      yield* Tx.transaction(
        Effect.forEach(
          Array.from({ length: 20 }, (_, i) => i),
          (i) =>
            Effect.exit(Tx.transaction(Effect.gen(function*() {
              yield* Db.execute("insert into t values ($1)", [i])
              if (i % 2 === 1) return yield* Effect.fail("odd")
            }))),
          { concurrency: "unbounded" }
        )
      )
      const rows = yield* Db.query("select x from t order by x")
      expect(rows.map((r) => r.x)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18])
    }).pipe(Effect.provide(DbTest())))

  it.live("a fiber that outlives its transaction gets TxClosedError and never touches the connection", () =>
    Effect.gen(function*() {
      yield* createTable("t", "x int")
      const gate = yield* Deferred.make<void>()
      const leaked = yield* Tx.transaction(
        Effect.forkDaemon(Effect.zipRight(Deferred.await(gate), Db.execute("insert into t values (1)")))
      )
      yield* Deferred.succeed(gate, undefined)
      const exit = yield* Fiber.await(leaked)
      expect(exit._tag).toBe("Failure")
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") expect(exit.cause.error._tag).toBe("TxClosedError")
      expect(yield* count("t")).toBe(0)
    }).pipe(Effect.provide(DbTest())))

  it.live("COMMIT of a transaction whose error was caught is a typed TxRolledBackError", () =>
    Effect.gen(function*() {
      yield* createTable("t", "x int primary key")
      const error = yield* Effect.flip(Tx.transaction(Effect.gen(function*() {
        yield* Db.execute("insert into t values (1)")
        yield* Effect.ignore(Db.execute("insert into t values (1)"))
      })))
      expect(error._tag).toBe("TxRolledBackError")
      expect(yield* count("t")).toBe(0)
    }).pipe(Effect.provide(DbTest())))

  it.live("Tx.begin: statements in the scope run in the transaction; commit is explicit and typed", () =>
    Effect.gen(function*() {
      yield* createTable("t", "x int")
      yield* Effect.scoped(Effect.gen(function*() {
        const tx = yield* Tx.begin()
        yield* Db.execute("insert into t values (1)")
        yield* tx.commit
      }))
      yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
        yield* Tx.begin()
        yield* Db.execute("insert into t values (2)")
        return yield* Effect.fail("abort")
      })))
      expect(yield* count("t")).toBe(1)
    }).pipe(Effect.provide(DbTest())))

  it.live("a serialization failure raised by COMMIT re-runs the whole transaction", () =>
    Effect.gen(function*() {
      yield* createTable("doctors", "name text primary key, on_call boolean not null")
      yield* Db.execute("insert into doctors values ('alice', true), ('bob', true)")
      const attempts = { alice: 0, bob: 0 }
      const bodiesDone = { alice: 0, bob: 0 }
      const bothWrote = yield* Deferred.make<void>()
      const aliceCommitted = yield* Deferred.make<void>()
      let writes = 0
      // Write skew: each takes themself off call if two are on call. Both read, both write
      // (different rows, so no lock conflict), alice commits, then bob's COMMIT must fail
      // with 40001; the retry re-reads and leaves bob on call.
      const goOffCall = (name: "alice" | "bob") =>
        Tx.transaction(
          Effect.gen(function*() {
            attempts[name]++
            const onCall = yield* Db.query("select count(*)::int as n from doctors where on_call")
            if (Number(onCall[0]?.n) >= 2) {
              yield* Db.execute("update doctors set on_call = false where name = $1", [name])
            }
            if (attempts[name] === 1) {
              if (++writes === 2) yield* Deferred.succeed(bothWrote, undefined)
              yield* Deferred.await(bothWrote)
              if (name === "bob") yield* Deferred.await(aliceCommitted)
            }
            bodiesDone[name]++
          }),
          { isolation: "serializable", retry: Schedule.recurs(5) }
        )
      yield* Effect.all([
        Effect.zipRight(goOffCall("alice"), Deferred.succeed(aliceCommitted, undefined)),
        goOffCall("bob")
      ], { concurrency: 2 })
      expect(yield* Db.query("select name from doctors where on_call")).toEqual([{ name: "bob" }])
      expect(attempts).toEqual({ alice: 1, bob: 2 })
      // bob's first body completed: the failure came from COMMIT.
      expect(bodiesDone).toEqual({ alice: 1, bob: 2 })
    }).pipe(Effect.provide(DbTest())))

  it.live("connection lost after COMMIT was sent: CommitOutcomeUnknownError, never retried", () =>
    Effect.gen(function*() {
      yield* createTable("t", "x int")
      const p = yield* proxy
      let attempts = 0
      const error = yield* Effect.flip(
        Effect.gen(function*() {
          const db = yield* Db.Db
          return yield* Tx.transaction(
            Effect.gen(function*() {
              attempts++
              yield* db.run("insert into t values (1)")
              p.cutAfter("COMMIT")
            }),
            { retry: Schedule.recurs(5), retryWhile: () => true }
          )
        }).pipe(Effect.provide(Db.layer({ url: p.url, maxOpen: 1 })))
      )
      expect(error._tag).toBe("CommitOutcomeUnknownError")
      expect(attempts).toBe(1)
      // The server did receive the COMMIT: here the outcome is in fact "committed".
      expect(yield* count("t")).toBe(1)
    }).pipe(Effect.scoped, Effect.provide(DbTest())))

  const bank = (interruptEvery: number) =>
    Effect.gen(function*() {
      const accounts = 8
      yield* createTable("accounts", "id int primary key, balance bigint not null")
      yield* Db.execute("insert into accounts select g, 1000 from generate_series(1, $1::int) g", [accounts])
      let applied = 0
      let failed = 0
      let interrupted = 0
      const transfer = Effect.gen(function*() {
        const from = yield* Random.nextIntBetween(1, accounts + 1)
        const to = ((from + (yield* Random.nextIntBetween(0, accounts - 1))) % accounts) + 1
        const amount = yield* Random.nextIntBetween(1, 50)
        return yield* Tx.transaction(
          Effect.gen(function*() {
            const rows = yield* Db.query("select balance from accounts where id = $1", [from])
            if (BigInt(rows[0]?.balance as bigint | string) < BigInt(amount)) return false
            yield* Db.execute("update accounts set balance = balance - $1 where id = $2", [amount, from])
            yield* Db.execute("update accounts set balance = balance + $1 where id = $2", [amount, to])
            return true
          }),
          {
            isolation: "serializable",
            retry: Retry.exponential({ base: "2 millis", cap: "50 millis", maxRetries: 50 })
          }
        )
      })
      yield* Effect.forEach(Array.from({ length: 64 }, (_, i) => i), (i) =>
        Effect.gen(function*() {
          for (let n = 0; n < 8; n++) {
            if (interruptEvery > 0 && (i * 8 + n) % interruptEvery === 0) {
              const fiber = yield* Effect.fork(transfer)
              yield* Effect.sleep(`${yield* Random.nextIntBetween(0, 20)} millis`)
              const exit = yield* Fiber.interrupt(fiber)
              if (Exit.isInterrupted(exit)) interrupted++
              else if (Exit.isSuccess(exit)) applied++
              else failed++
              continue
            }
            const exit = yield* Effect.exit(transfer)
            if (Exit.isSuccess(exit)) applied++
            else failed++
          }
        }), { concurrency: "unbounded" })
      const total = yield* Db.query("select sum(balance)::bigint as total from accounts")
      expect(BigInt(total[0]?.total as bigint | string)).toBe(BigInt(accounts * 1000))
      expect(applied + failed + interrupted).toBe(512)
      expect(applied).toBeGreaterThan(0)
      expect(yield* otherSessions("idle in transaction")).toBe(0)
      expect((yield* Db.stats).inUse).toBe(0)
      return { applied, failed, interrupted }
    })

  it.live(
    "bank transfers: 64 fibers, serializable with retries, total balance unchanged",
    () => bank(0).pipe(Effect.provide(DbTest({ maxOpen: 10 }))),
    120_000
  )

  it.live(
    "bank transfers with 10% of fibers interrupted at random moments: same invariants",
    () =>
      Effect.gen(function*() {
        const result = yield* bank(10)
        expect(result.interrupted + result.applied).toBeGreaterThan(0)
      }).pipe(Effect.provide(DbTest({ maxOpen: 10 }))),
    120_000
  )

  it.live("layerRollback: everything inside is rolled back when the layer is released", () =>
    Effect.gen(function*() {
      yield* createTable("t", "x int")
      yield* Effect.provide(
        Effect.gen(function*() {
          yield* Db.execute("insert into t values (1)")
          yield* Tx.transaction(Db.execute("insert into t values (2)"))
          expect(yield* count("t")).toBe(2)
        }),
        Tx.layerRollback()
      )
      expect(yield* count("t")).toBe(0)
    }).pipe(Effect.provide(DbTest())))
})
