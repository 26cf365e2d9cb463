import * as PgConnection from "@berth/pg/PgConnection"
import * as TestDatabase from "@berth/testing/TestDatabase"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Option } from "effect"
import * as FastCheck from "effect/FastCheck"
import * as Proxy from "./fixtures/proxy.js"
import { connectTest, testConfig, withObserver } from "./helpers.js"

/** What the backend `pid` is doing, seen from another connection. */
const activity = (observer: PgConnection.PgConnection, pid: number) =>
  Effect.map(
    observer.query("select state, query from pg_stat_activity where pid = $1", [pid]),
    (r) => r.rows[0] as { state: string; query: string } | undefined
  )

const runningSleep = (observer: PgConnection.PgConnection, pid: number) =>
  Effect.map(activity(observer, pid), (a) => a !== undefined && a.state === "active" && a.query.includes("pg_sleep"))

describe("cancellation", () => {
  it.live("interrupting a statement cancels it on the server; the caller returns promptly", () =>
    withObserver((observer) =>
      Effect.scoped(Effect.gen(function*() {
        const conn = yield* connectTest()
        const fiber = yield* Effect.fork(conn.query("select pg_sleep(30)"))
        // wait until the server runs it
        let running = false
        for (let i = 0; i < 200 && !running; i++) {
          running = yield* runningSleep(observer, conn.backendPid)
          if (!running) yield* Effect.sleep("10 millis")
        }
        expect(running).toBe(true)
        const started = Date.now()
        yield* Fiber.interrupt(fiber)
        const interruptMillis = Date.now() - started
        // the server stops running it within 200 ms of the interrupt returning
        const deadline = Date.now() + 200
        let stillRunning = true
        while (stillRunning && Date.now() < deadline) {
          stillRunning = yield* runningSleep(observer, conn.backendPid)
          if (stillRunning) yield* Effect.sleep("5 millis")
        }
        expect(stillRunning).toBe(false)
        expect(interruptMillis).toBeLessThan(1000)
        yield* conn.awaitReady
        expect(conn.isBroken).toBe(false)
        expect(conn.transactionStatus).toBe("idle")
        const r = yield* conn.query("select 1 as one")
        expect(r.rows).toEqual([{ one: 1 }])
      }))
    ))

  it.live("Effect.timeout acts as a statement timeout that stops the server", () =>
    Effect.scoped(Effect.gen(function*() {
      const conn = yield* connectTest()
      const result = yield* conn.query("select pg_sleep(30)").pipe(Effect.timeout("200 millis"), Effect.option)
      expect(Option.isNone(result)).toBe(true)
      const r = yield* conn.query("select 2 as two")
      expect(r.rows).toEqual([{ two: 2 }])
    })))

  it.live("an interrupted statement inside a transaction leaves it failed, not committed", () =>
    Effect.scoped(Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.query("create table t_tx (x int)")
      yield* conn.simpleQuery("begin; insert into t_tx values (1)")
      expect(conn.transactionStatus).toBe("transaction")
      yield* conn.query("select pg_sleep(30)").pipe(Effect.timeout("100 millis"), Effect.option)
      yield* conn.awaitReady
      expect(conn.transactionStatus).toBe("failed")
      yield* conn.simpleQuery("rollback")
      expect(conn.transactionStatus).toBe("idle")
      expect((yield* conn.query("select count(*)::int as n from t_tx")).rows).toEqual([{ n: 0 }])
    })))

  it.live("without pipelining, concurrent calls queue; an interrupted queued call never reaches the server", () =>
    Effect.scoped(Effect.gen(function*() {
      const conn = yield* connectTest({}, { pipeline: 1 })
      yield* conn.query("create table t_q (x int)")
      const slow = yield* Effect.fork(conn.query("select pg_sleep(0.3)"))
      const queued = yield* Effect.fork(conn.query("insert into t_q values (1)"))
      yield* Effect.sleep("20 millis")
      yield* Fiber.interrupt(queued)
      yield* Fiber.join(slow)
      const results = yield* Effect.all(
        Array.from({ length: 50 }, (_, i) => conn.query("select $1::int as i", [i])),
        { concurrency: "unbounded" }
      )
      expect(results.map((r) => r.rows[0]!.i)).toEqual(Array.from({ length: 50 }, (_, i) => i))
      expect((yield* conn.query("select count(*)::int as n from t_q")).rows).toEqual([{ n: 0 }])
    })))

  it.live(
    "race: thousands of interrupts at random moments never cancel a later statement",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const conn = yield* connectTest()
        const iterations = 2000
        let interrupted = 0
        let completed = 0
        for (let i = 0; i < iterations; i++) {
          const sleep = [0, 0, 0.0005, 0.001, 0.002][i % 5]!
          const fiber = yield* Effect.fork(conn.query("select pg_sleep($1)", [sleep]))
          const mode = Math.random()
          if (mode < 0.3) {
            for (let k = Math.floor(Math.random() * 20); k > 0; k--) yield* Effect.yieldNow()
          } else {
            yield* Effect.sleep(Duration.millis(Math.random() * 3))
          }
          const exit = yield* Fiber.interrupt(fiber)
          if (Exit.isInterrupted(exit)) interrupted++
          else if (Exit.isSuccess(exit)) completed++
          else throw new Error(`the interrupted statement failed instead: ${String(exit.cause)}`)
          // the next statement on the same connection must never be the one that gets canceled
          const next = yield* Effect.exit(conn.query("select $1::int as i", [i]))
          if (Exit.isFailure(next)) throw new Error(`statement after interrupt ${i} failed: ${String(next.cause)}`)
          expect(next.value.rows[0]!.i).toBe(i)
        }
        expect(conn.isBroken).toBe(false)
        expect(interrupted).toBeGreaterThan(iterations / 10)
        expect(interrupted + completed).toBe(iterations)
      })),
    180_000
  )

  it.live("if the cancel side connection cannot be opened, the connection is destroyed", () =>
    Effect.gen(function*() {
      const db = TestDatabase.current()
      const proxy = yield* Effect.promise(() => Proxy.start({ host: db.host, port: db.port }))
      yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* PgConnection.connect(testConfig({ host: "127.0.0.1", port: proxy.port }))
        const fiber = yield* Effect.fork(conn.query("select pg_sleep(30)"))
        yield* Effect.sleep("100 millis")
        yield* Effect.promise(() => proxy.stopListening())
        yield* Fiber.interrupt(fiber)
        yield* conn.awaitReady
        expect(conn.isBroken).toBe(true)
        const e = yield* Effect.flip(conn.query("select 1"))
        expect(e._tag).toBe("PgConnectionError")
      }))
      yield* Effect.promise(() => proxy.close())
    }))

  it.live("if the interrupted statement cannot be confirmed finished in time, the connection is destroyed", () =>
    Effect.gen(function*() {
      const db = TestDatabase.current()
      const proxy = yield* Effect.promise(() => Proxy.start({ host: db.host, port: db.port }))
      yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* PgConnection.connect(testConfig({ host: "127.0.0.1", port: proxy.port }), {
          cancelTimeout: "1500 millis"
        })
        // built while idle, run later: awaitReady checks the state when it runs
        const ready = conn.awaitReady
        const fiber = yield* Effect.fork(conn.query("select pg_sleep(30)"))
        yield* Effect.sleep("100 millis")
        // the cancel connection is accepted but never answered: no confirmation
        proxy.blackholeNew(true)
        const started = Date.now()
        yield* Fiber.interrupt(fiber)
        // the caller does not wait for the (never coming) confirmation
        expect(Date.now() - started).toBeLessThan(1000)
        expect(conn.isBroken).toBe(false)
        yield* ready
        expect(conn.isBroken).toBe(true)
        const e = yield* Effect.flip(conn.query("select 1"))
        expect(e._tag).toBe("PgConnectionError")
        expect(e.message).toContain("could not be confirmed")
      }))
      yield* Effect.promise(() => proxy.close())
    }))

  it.live("awaitReady resolves at once on an idle connection", () =>
    Effect.scoped(Effect.gen(function*() {
      const conn = yield* connectTest()
      yield* conn.awaitReady
      expect(conn.isBroken).toBe(false)
    })))

  it.live("closing a connection with a statement still running cancels it and frees the backend", () =>
    withObserver((observer) =>
      Effect.gen(function*() {
        const { fiber, pid } = yield* Effect.scoped(Effect.gen(function*() {
          const conn = yield* connectTest()
          const fiber = yield* Effect.fork(Effect.either(conn.query("select pg_sleep(30)")))
          let running = false
          for (let i = 0; i < 200 && !running; i++) {
            running = yield* runningSleep(observer, conn.backendPid)
            if (!running) yield* Effect.sleep("10 millis")
          }
          expect(running).toBe(true)
          return { fiber, pid: conn.backendPid }
        }))
        const outcome = yield* Fiber.join(fiber)
        expect(outcome._tag === "Left" && outcome.left._tag).toBe("PgConnectionError")
        let present = true
        for (let i = 0; i < 300 && present; i++) {
          present = (yield* activity(observer, pid)) !== undefined
          if (present) yield* Effect.sleep("10 millis")
        }
        expect(present).toBe(false)
      })
    ))

  it.live(
    "property: concurrent statements with random failures and interrupts each get their own outcome",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const conn = yield* connectTest()
        const step = FastCheck.record({
          kind: FastCheck.constantFrom("ok", "fail", "sleep"),
          // undefined: never interrupted; otherwise after this many milliseconds
          interruptAfter: FastCheck.option(FastCheck.integer({ min: 0, max: 4 }), { nil: undefined })
        })
        const scenarios = FastCheck.sample(FastCheck.array(step, { minLength: 2, maxLength: 12 }), 60)
        let interruptedTotal = 0
        for (const scenario of scenarios) {
          const fibers = yield* Effect.forEach(scenario, (s, i) =>
            Effect.fork(
              s.kind === "ok"
                ? conn.query("select $1::int as i", [i])
                : s.kind === "fail"
                ? conn.query("select 1/0 as i")
                : conn.query("select pg_sleep(0.002), $1::int as i", [i])
            ))
          yield* Effect.forEach(scenario, (s, i) =>
            s.interruptAfter === undefined
              ? Effect.void
              : Effect.fork(Effect.delay(Fiber.interrupt(fibers[i]!), Duration.millis(s.interruptAfter))))
          for (let i = 0; i < scenario.length; i++) {
            const s = scenario[i]!
            const exit = yield* Fiber.await(fibers[i]!)
            if (Exit.isInterrupted(exit)) {
              expect(s.interruptAfter).toBeDefined()
              interruptedTotal++
              continue
            }
            // nobody else's cancel ever lands on this statement
            if (s.kind === "fail") {
              expect(
                Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error._tag === "PgServerError" &&
                  exit.cause.error.code
              ).toBe("22012")
            } else {
              if (Exit.isFailure(exit)) throw new Error(`statement ${i} (${s.kind}) failed: ${String(exit.cause)}`)
              expect(exit.value.rows[0]!.i).toBe(i)
            }
          }
          yield* conn.awaitReady
          expect(conn.isBroken).toBe(false)
          expect(conn.transactionStatus).toBe("idle")
        }
        expect(interruptedTotal).toBeGreaterThan(0)
      })),
    120_000
  )
})
