import * as PgConnection from "@berth/pg/PgConnection"
import * as PgError from "@berth/pg/PgError"
import * as TestDatabase from "@berth/testing/TestDatabase"
import { describe, expect, it } from "@effect/vitest"
import { Array as Arr, Chunk, Effect, Exit, Fiber, Stream } from "effect"
import * as Proxy from "./fixtures/proxy.js"
import { connectTest, testConfig, withObserver } from "./helpers.js"

/** Whether backend `pid` is running a statement containing `text`. */
const running = (observer: PgConnection.PgConnection, pid: number, text: string) =>
  Effect.map(
    observer.query("select state, query from pg_stat_activity where pid = $1", [pid]),
    (r) => {
      const a = r.rows[0] as { state: string; query: string } | undefined
      return a !== undefined && a.state === "active" && a.query.includes(text)
    }
  )

const waitUntil = (check: Effect.Effect<boolean, PgError.PgError>, what: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200; i++) {
      if (yield* check) return
      yield* Effect.sleep("10 millis")
    }
    return yield* Effect.die(new Error(`timed out waiting until ${what}`))
  })

describe("pipelining", () => {
  it.live("statements of concurrent callers go out while an earlier one is still running", () =>
    Effect.gen(function*() {
      const db = TestDatabase.current()
      const proxy = yield* Effect.promise(() => Proxy.start({ host: db.host, port: db.port }))
      yield* Effect.scoped(Effect.gen(function*() {
        const observer = yield* connectTest()
        yield* observer.query("select pg_advisory_lock(4242)")
        const conn = yield* PgConnection.connect(testConfig({ host: "127.0.0.1", port: proxy.port }))
        const blocked = yield* Effect.fork(conn.query("select pg_advisory_lock(4242) as l"))
        yield* waitUntil(running(observer, conn.backendPid, "pg_advisory_lock"), "the first statement blocks")
        const before = proxy.bytesUp()
        const followers = yield* Effect.fork(
          Effect.all(Arr.makeBy(50, (i) => conn.query("select $1::int as i", [i])), { concurrency: "unbounded" })
        )
        yield* Effect.sleep("100 millis")
        // the 50 statements reached the server although the first one has not answered
        expect(proxy.bytesUp() - before).toBeGreaterThan(50 * 20)
        expect(conn.pending).toBe(51)
        yield* observer.query("select pg_advisory_unlock(4242)")
        yield* Fiber.join(blocked)
        const results = yield* Fiber.join(followers)
        expect(results.map((r) => r.rows[0]!.i)).toEqual(Arr.makeBy(50, (i) => i))
        expect(conn.pending).toBe(0)
      }))
      yield* Effect.promise(() => proxy.close())
    }))

  it.live("with pipeline: 1 nothing goes out before the previous ReadyForQuery", () =>
    Effect.gen(function*() {
      const db = TestDatabase.current()
      const proxy = yield* Effect.promise(() => Proxy.start({ host: db.host, port: db.port }))
      yield* Effect.scoped(Effect.gen(function*() {
        const observer = yield* connectTest()
        yield* observer.query("select pg_advisory_lock(4243)")
        const conn = yield* PgConnection.connect(testConfig({ host: "127.0.0.1", port: proxy.port }), {
          pipeline: 1
        })
        const blocked = yield* Effect.fork(conn.query("select pg_advisory_lock(4243) as l"))
        yield* waitUntil(running(observer, conn.backendPid, "pg_advisory_lock"), "the first statement blocks")
        const before = proxy.bytesUp()
        const followers = yield* Effect.fork(
          Effect.all(Arr.makeBy(10, (i) => conn.query("select $1::int as i", [i])), { concurrency: "unbounded" })
        )
        yield* Effect.sleep("100 millis")
        expect(proxy.bytesUp() - before).toBe(0)
        yield* observer.query("select pg_advisory_unlock(4243)")
        yield* Fiber.join(blocked)
        expect((yield* Fiber.join(followers)).length).toBe(10)
      }))
      yield* Effect.promise(() => proxy.close())
    }))

  it.live("interleaved errors go to their own statement; the others get their results", () =>
    Effect.scoped(Effect.gen(function*() {
      const conn = yield* connectTest()
      const outcomes = yield* Effect.all(
        Arr.makeBy(300, (i) =>
          Effect.either(
            i % 7 === 3
              ? conn.query("select 1 / ($1::int - $1::int) as i", [i]) // division by zero
              : i % 11 === 5
              ? conn.query("select $1::int as i", [`not a number ${i}`]) // invalid input
              : i % 13 === 8
              ? conn.query("select * from no_such_table_pipeline")
              : conn.query("select $1::int as i", [i])
          )),
        { concurrency: "unbounded" }
      )
      outcomes.forEach((outcome, i) => {
        if (i % 7 === 3) {
          expect(outcome._tag === "Left" && PgError.isServerError(outcome.left) && outcome.left.code).toBe("22012")
        } else if (i % 11 === 5) {
          expect(outcome._tag === "Left" && PgError.isServerError(outcome.left) && outcome.left.code).toBe("22P02")
        } else if (i % 13 === 8) {
          expect(outcome._tag === "Left" && PgError.isServerError(outcome.left) && outcome.left.code).toBe("42P01")
        } else {
          expect(outcome._tag === "Right" && outcome.right.rows[0]).toEqual({ i })
        }
      })
      expect(conn.transactionStatus).toBe("idle")
    })))

  it.live(
    "10,000 concurrent statements on one connection each get their own result",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const conn = yield* connectTest()
        const n = 10_000
        const results = yield* Effect.all(
          Arr.makeBy(n, (i) => conn.query("select $1::int as i, $2::text as s", [i, `v${i}`])),
          { concurrency: "unbounded" }
        )
        for (let i = 0; i < n; i++) expect(results[i]!.rows[0]).toEqual({ i, s: `v${i}` })
        expect(conn.pending).toBe(0)
        expect(conn.isBroken).toBe(false)
      })),
    60_000
  )

  it.live("a pipelined statement inside a transaction block sees the effects of the ones before it", () =>
    Effect.scoped(Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.query("create temp table t_pipe (x int)")
      yield* conn.query("begin")
      yield* Effect.all(Arr.makeBy(20, (i) => conn.query("insert into t_pipe values ($1)", [i])), {
        concurrency: "unbounded"
      })
      const [count, failed, after] = yield* Effect.all([
        conn.query("select count(*)::int as n from t_pipe"),
        Effect.either(conn.query("select 1/0")),
        Effect.either(conn.query("select 1 as one"))
      ], { concurrency: "unbounded" })
      expect(count.rows).toEqual([{ n: 20 }])
      expect(failed._tag === "Left" && PgError.isServerError(failed.left) && failed.left.code).toBe("22012")
      // the failed statement aborted the transaction block, as it would without pipelining
      expect(after._tag === "Left" && PgError.isServerError(after.left) && after.left.code).toBe("25P02")
      expect(conn.transactionStatus).toBe("failed")
      yield* conn.query("rollback")
      expect(conn.transactionStatus).toBe("idle")
    })))

  it.live(
    "race: random interrupts of pipelined statements never cancel another caller's statement",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const conn = yield* connectTest()
        let interrupted = 0
        for (let round = 0; round < 150; round++) {
          const fibers = yield* Effect.forEach(Arr.makeBy(16, (k) => k), (k) =>
            Effect.fork(
              conn.query("select pg_sleep($1) as s, $2::int as i", [[0, 0, 0.0005, 0.001, 0.002][k % 5]!, k])
            ))
          const victims = fibers.filter(() => Math.random() < 0.3)
          const interrupters = yield* Effect.forEach(victims, (fiber) =>
            Effect.fork(
              Effect.zipRight(Effect.sleep(`${Math.floor(Math.random() * 4)} millis`), Fiber.interrupt(fiber))
            ))
          for (let k = 0; k < fibers.length; k++) {
            const fiber = fibers[k]!
            if (victims.includes(fiber)) continue
            const exit = yield* Fiber.await(fiber)
            if (Exit.isFailure(exit)) {
              throw new Error(`round ${round}: statement ${k}, never interrupted, failed: ${String(exit.cause)}`)
            }
            expect(exit.value.rows[0]!.i).toBe(k)
          }
          for (const f of interrupters) {
            const exit = yield* Fiber.join(f)
            if (Exit.isInterrupted(exit)) interrupted++
          }
        }
        expect(interrupted).toBeGreaterThan(100)
        expect(conn.isBroken).toBe(false)
        expect((yield* conn.query("select 7 as n")).rows).toEqual([{ n: 7 }])
      })),
    180_000
  )

  it.live(
    "an interrupted statement last on the wire is cancelled once the ones before it are answered",
    () =>
      withObserver((observer) =>
        Effect.scoped(Effect.gen(function*() {
          const conn = yield* connectTest()
          const first = yield* Effect.fork(conn.query("select pg_sleep(0.3) as s"))
          const sleeper = yield* Effect.fork(conn.query("select pg_sleep(30) as s"))
          yield* Effect.sleep("50 millis")
          const started = Date.now()
          yield* Fiber.interrupt(sleeper)
          // the caller returns at once, without waiting for the server
          expect(Date.now() - started).toBeLessThan(200)
          yield* Fiber.join(first)
          // then the long statement is cancelled on the server
          yield* waitUntil(
            Effect.map(running(observer, conn.backendPid, "pg_sleep(30)"), (r) => !r),
            "pg_sleep(30) stops"
          )
          expect((yield* conn.query("select 1 as n")).rows).toEqual([{ n: 1 }])
          expect(Date.now() - started).toBeLessThan(5_000)
        }))
      )
  )

  it.live("an interrupted statement with followers on the wire is abandoned; the followers are unharmed", () =>
    Effect.scoped(Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.query("create temp table t_abandon (x int)")
      const victim = yield* Effect.fork(conn.query("select pg_sleep(0.2), 1 as v"))
      const follower = yield* Effect.fork(conn.query("insert into t_abandon values (1) returning x"))
      yield* Effect.sleep("20 millis")
      const started = Date.now()
      const exit = yield* Fiber.interrupt(victim)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(Date.now() - started).toBeLessThan(100)
      const inserted = yield* Fiber.join(follower)
      expect(inserted.rows).toEqual([{ x: 1 }])
      expect((yield* conn.query("select count(*)::int as n from t_abandon")).rows).toEqual([{ n: 1 }])
      expect(conn.isBroken).toBe(false)
    })))

  it.live("portals and COPY run alone: queries issued meanwhile wait and then pipeline", () =>
    Effect.scoped(Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.query("create temp table t_alone (x int)")
      const [streamed, queried] = yield* Effect.all([
        Stream.runCollect(conn.stream("select g from generate_series(1, 5000) g", [], { fetchSize: 100 })),
        Effect.all(Arr.makeBy(20, (i) => conn.query("select $1::int as i", [i])), { concurrency: "unbounded" })
      ], { concurrency: "unbounded" })
      expect(Chunk.size(streamed)).toBe(5000)
      expect(queried.map((r) => r.rows[0]!.i)).toEqual(Arr.makeBy(20, (i) => i))
      // COPY FROM STDIN through `query` cannot read data: it fails alone, its neighbours succeed
      const [copy, others] = yield* Effect.all([
        Effect.either(conn.query("copy t_alone from stdin")),
        Effect.all(Arr.makeBy(10, (i) => conn.query("select $1::int as i", [i])), { concurrency: "unbounded" })
      ], { concurrency: "unbounded" })
      expect(copy._tag).toBe("Left")
      expect(others.length).toBe(10)
      const bytes = new TextEncoder().encode("1\n2\n")
      const copied = yield* Effect.all([
        Stream.run(Stream.make(bytes), conn.copyFrom("copy t_alone from stdin")),
        conn.query("select count(*)::int as n from t_alone")
      ], { concurrency: "unbounded" })
      expect(copied[0]).toBe(2)
      expect(conn.isBroken).toBe(false)
    })))

  it.live(
    "a statement interrupted in the tick it was issued is stopped on the server",
    () =>
      withObserver((observer) =>
        Effect.scoped(Effect.gen(function*() {
          const conn = yield* connectTest({}, { cancelTimeout: "3 seconds" })
          for (let i = 0; i < 40; i++) {
            const fiber = yield* Effect.fork(conn.query("select pg_sleep(30) as s"))
            // a few scheduler turns at most: often before the statement's bytes were written
            for (let k = 0; k < i % 4; k++) yield* Effect.yieldNow()
            yield* Fiber.interrupt(fiber)
            yield* conn.awaitReady
            expect(conn.isBroken).toBe(false)
            expect(yield* running(observer, conn.backendPid, "pg_sleep(30)")).toBe(false)
          }
          expect((yield* conn.query("select 1 as n")).rows).toEqual([{ n: 1 }])
        }))
      ),
    30_000
  )

  it.live("a cancel that arrives before the statement is repeated until it stops it", () =>
    Effect.gen(function*() {
      const db = TestDatabase.current()
      const proxy = yield* Effect.promise(() => Proxy.start({ host: db.host, port: db.port }))
      yield* withObserver((observer) =>
        Effect.scoped(Effect.gen(function*() {
          const conn = yield* PgConnection.connect(testConfig({ host: "127.0.0.1", port: proxy.port }), {
            cancelTimeout: "5 seconds"
          })
          // the statement reaches the server 300 ms late; the cancels (new connections) do not
          proxy.delayExisting(300)
          const fiber = yield* Effect.fork(conn.query("select pg_sleep(30) as s"))
          yield* Effect.sleep("20 millis")
          yield* Fiber.interrupt(fiber)
          yield* conn.awaitReady
          expect(conn.isBroken).toBe(false)
          expect(yield* running(observer, conn.backendPid, "pg_sleep(30)")).toBe(false)
          expect((yield* conn.query("select 1 as n")).rows).toEqual([{ n: 1 }])
        }))
      )
      yield* Effect.promise(() => proxy.close())
    }), 30_000)

  it.effect("pipeline must be a positive integer", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Effect.scoped(connectTest({}, { pipeline: 0 })))
      expect(e._tag).toBe("PgInputError")
      expect(e.message).toContain("pipeline")
    }))
})
