import { Db, Tx } from "@berth/sql"
import { describe, expect, it } from "@effect/vitest"
import { Array as Arr, Effect, Exit, Fiber } from "effect"
import { createTable, DbTest, eventually, url } from "./util.js"

/** Whether another session of this database is waiting on an advisory lock. */
const someoneWaitsOnLock = Effect.map(
  Db.query(
    "select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted"
  ),
  (rows) => Number(rows[0]?.n) > 0
)

describe("Db pipelining (single statements outside a session share a saturated pool)", () => {
  it.live("a saturated pool pipelines statements on its connection instead of queueing them", () =>
    Effect.gen(function*() {
      // the lock is held by a pinned connection outside the pool under test
      yield* Effect.scoped(Effect.gen(function*() {
        const holder = yield* Db.make({ url: url(), maxOpen: 1 })
        yield* holder.run("select pg_advisory_lock(777)")
        const blocked = yield* Effect.fork(Db.query("select pg_advisory_lock(777) as l"))
        expect(yield* eventually(Effect.provideService(someoneWaitsOnLock, Db.Db, holder))).toBe(true)
        const followers = yield* Effect.fork(
          Effect.all(Arr.makeBy(20, (i) => Db.query("select $1::int as i", [i])), { concurrency: "unbounded" })
        )
        yield* Effect.sleep("100 millis")
        const stats = yield* Db.stats
        // nobody queues in the pool: the 20 statements wait on the wire behind the blocked one
        expect(stats.inUse).toBe(1)
        expect(stats.waiting).toBe(0)
        yield* holder.run("select pg_advisory_unlock(777)")
        yield* Fiber.join(blocked)
        const results = yield* Fiber.join(followers)
        expect(results.map((rows) => rows[0]!.i)).toEqual(Arr.makeBy(20, (i) => i))
      }))
      expect((yield* Db.stats).inUse).toBe(0)
    }).pipe(Effect.provide(DbTest({ maxOpen: 1 }))))

  it.live("with pipelining: false the same statements queue in the pool", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const holder = yield* Db.make({ url: url(), maxOpen: 1 })
        yield* holder.run("select pg_advisory_lock(778)")
        const blocked = yield* Effect.fork(Db.query("select pg_advisory_lock(778) as l"))
        expect(yield* eventually(Effect.provideService(someoneWaitsOnLock, Db.Db, holder))).toBe(true)
        const followers = yield* Effect.fork(
          Effect.all(Arr.makeBy(5, (i) => Db.query("select $1::int as i", [i])), { concurrency: "unbounded" })
        )
        yield* Effect.sleep("100 millis")
        expect((yield* Db.stats).waiting).toBe(5)
        yield* holder.run("select pg_advisory_unlock(778)")
        yield* Fiber.join(blocked)
        expect((yield* Fiber.join(followers)).length).toBe(5)
      }))
    }).pipe(Effect.provide(DbTest({ maxOpen: 1, pipelining: false }))))

  it.live("a transaction waiting for the pool is served before statements that arrive after it", () =>
    Effect.gen(function*() {
      yield* createTable("fair", "x int")
      yield* Effect.scoped(Effect.gen(function*() {
        const holder = yield* Db.make({ url: url(), maxOpen: 1 })
        yield* holder.run("select pg_advisory_lock(779)")
        const blocked = yield* Effect.fork(Db.query("select pg_advisory_lock(779) as l"))
        expect(yield* eventually(Effect.provideService(someoneWaitsOnLock, Db.Db, holder))).toBe(true)
        const tx = yield* Effect.fork(Tx.transaction(Db.execute("insert into fair values (1)")))
        yield* Effect.sleep("50 millis")
        expect((yield* Db.stats).waiting).toBe(1)
        // these must not jump the queue by joining the busy connection
        const later = yield* Effect.fork(
          Effect.all(Arr.makeBy(10, () => Db.query("select count(*)::int as n from fair")), {
            concurrency: "unbounded"
          })
        )
        yield* Effect.sleep("50 millis")
        yield* holder.run("select pg_advisory_unlock(779)")
        yield* Fiber.join(blocked)
        yield* Fiber.join(tx)
        const counts = yield* Fiber.join(later)
        expect(counts.map((rows) => rows[0]!.n)).toEqual(Arr.makeBy(10, () => 1))
      }))
      expect((yield* Db.stats).inUse).toBe(0)
    }).pipe(Effect.provide(DbTest({ maxOpen: 1 }))))

  it.live("a statement outside a session that leaves a transaction open fails; nothing runs inside it", () =>
    Effect.gen(function*() {
      yield* createTable("captured", "x int")
      const outcomes = yield* Effect.all(
        [
          Effect.either(Db.execute("begin")),
          ...Arr.makeBy(5, (i) => Effect.either(Db.execute("insert into captured values ($1)", [i])))
        ],
        { concurrency: "unbounded" }
      )
      const begin = outcomes[0]!
      expect(begin._tag === "Left" && begin.left._tag).toBe("PgInputError")
      // every insert either committed on its own or failed: none is left in a rolled-back transaction
      const reported = outcomes.slice(1).filter((o) => o._tag === "Right").length
      const stored = (yield* Db.query("select count(*)::int as n from captured"))[0]!.n
      expect(stored).toBe(reported)
      expect((yield* Db.query("select 1 as one"))[0]).toEqual({ one: 1 })
      expect((yield* Db.stats).inUse).toBe(0)
    }).pipe(Effect.provide(DbTest({ maxOpen: 1 }))))

  it.live(
    "random interruptions of shared statements: the others get their results, nothing leaks",
    () =>
      Effect.gen(function*() {
        let interrupted = 0
        for (let round = 0; round < 40; round++) {
          const fibers = yield* Effect.forEach(
            Arr.makeBy(24, (k) => k),
            (k) => Effect.fork(Db.query("select pg_sleep($1) as s, $2::int as i", [[0, 0.001, 0.002][k % 3]!, k]))
          )
          const victims = new Set(fibers.filter(() => Math.random() < 0.25))
          const interrupters = yield* Effect.forEach(
            [...victims],
            (fiber) =>
              Effect.fork(
                Effect.zipRight(Effect.sleep(`${Math.floor(Math.random() * 3)} millis`), Fiber.interrupt(fiber))
              )
          )
          for (let k = 0; k < fibers.length; k++) {
            if (victims.has(fibers[k]!)) continue
            const exit = yield* Fiber.await(fibers[k]!)
            if (Exit.isFailure(exit)) throw new Error(`round ${round}, statement ${k} failed: ${String(exit.cause)}`)
            expect(exit.value[0]!.i).toBe(k)
          }
          for (const f of interrupters) if (Exit.isInterrupted(yield* Fiber.join(f))) interrupted++
        }
        expect(interrupted).toBeGreaterThan(20)
        expect(yield* eventually(Effect.map(Db.stats, (s) => s.inUse === 0))).toBe(true)
        expect((yield* Db.query("select 2 as two"))[0]).toEqual({ two: 2 })
      }).pipe(Effect.provide(DbTest({ maxOpen: 3 }))),
    120_000
  )

  it.live("statementCache and pipeline reach every connection (PgBouncer-friendly unnamed mode)", () =>
    Effect.gen(function*() {
      const results = yield* Effect.all(
        Arr.makeBy(200, (i) => Db.query("select $1::int as i", [i])),
        { concurrency: 32 }
      )
      expect(results.map((rows) => rows[0]!.i)).toEqual(Arr.makeBy(200, (i) => i))
      const db = yield* Db.Db
      expect(db.connectOptions).toEqual({ statementCache: "unnamed", pipeline: 4 })
      const prepared = yield* Db.withConnection((conn) =>
        conn.query("select count(*)::int as n from pg_prepared_statements")
      )
      expect(prepared.rows).toEqual([{ n: 0 }])
    }).pipe(Effect.provide(DbTest({ maxOpen: 2, statementCache: "unnamed", pipeline: 4 }))))

  it.live("many concurrent statements over a small pool all get their own rows", () =>
    Effect.gen(function*() {
      const results = yield* Effect.all(
        Arr.makeBy(2000, (i) => Db.query("select $1::int as i, repeat('x', $1::int % 50) as pad", [i])),
        { concurrency: 64 }
      )
      results.forEach((rows, i) => expect(rows[0]).toEqual({ i, pad: "x".repeat(i % 50) }))
      const stats = yield* Db.stats
      expect(stats.inUse).toBe(0)
      expect(stats.open).toBeLessThanOrEqual(4)
    }).pipe(Effect.provide(DbTest({ maxOpen: 4 }))))
})
