import * as PgConnection from "@berth/pg/PgConnection"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Schedule, Stream } from "effect"
import { connectTest, testConfig, withObserver } from "./helpers.js"

const listening = (
  conn: {
    simpleQuery: (
      sql: string
    ) => Effect.Effect<ReadonlyArray<{ rows: ReadonlyArray<Record<string, unknown>> }>, unknown>
  }
) => Effect.map(conn.simpleQuery("select pg_listening_channels() as c order by 1"), (r) => r[0]!.rows.map((x) => x.c))

describe("PgConnection.listen / notify", () => {
  it.scopedLive("notifications of the channel only, in order, empty payloads included; subscribers are independent", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const sender = yield* connectTest()
      const channel = `Jobs "quoted" ${Math.random().toString(36).slice(2)}`
      const a = yield* Effect.fork(Stream.runCollect(Stream.take(conn.listen(channel), 4)))
      const b = yield* Effect.fork(Stream.runCollect(Stream.take(conn.listen(channel), 2)))
      // both LISTENs are acknowledged once the server reports the channel
      yield* Effect.repeat(listening(conn), { until: (cs) => cs.includes(channel) })
      yield* sender.notify("other", "not for us")
      for (const payload of ["one", "", "it's \"three\"", "four"]) yield* sender.notify(channel, payload)
      const got = Chunk.toReadonlyArray(yield* Fiber.join(a))
      expect(got.map((n) => n.payload)).toEqual(["one", "", "it's \"three\"", "four"])
      expect(got.every((n) => n.channel === channel && n.pid === sender.backendPid)).toBe(true)
      expect(Chunk.toReadonlyArray(yield* Fiber.join(b)).map((n) => n.payload)).toEqual(["one", ""])
      // the last subscriber to leave sent UNLISTEN
      expect(yield* listening(conn)).toEqual([])
    }))

  it.scopedLive("one subscriber ending does not end another; the stream emits only after LISTEN", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const sender = yield* connectTest()
      const first = yield* Effect.fork(Stream.runCollect(Stream.take(conn.listen("c1"), 1)))
      const second = yield* Effect.fork(Stream.runCollect(Stream.take(conn.listen("c1"), 2)))
      yield* Effect.repeat(listening(conn), { until: (cs) => cs.includes("c1") })
      yield* sender.notify("c1", "x")
      expect(Chunk.size(yield* Fiber.join(first))).toBe(1)
      expect(yield* listening(conn)).toEqual(["c1"]) // still one subscriber
      yield* sender.notify("c1", "y")
      expect(Chunk.toReadonlyArray(yield* Fiber.join(second)).map((n) => n.payload)).toEqual(["x", "y"])
      // queries on the connection keep working meanwhile
      expect((yield* conn.query("select 1 as one")).rows).toEqual([{ one: 1 }])
    }))

  it.effect("invalid channel names are typed errors", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      for (const bad of ["", "a\0b", "x".repeat(64)]) {
        const e = yield* Effect.flip(Stream.runDrain(conn.listen(bad)))
        expect(e._tag).toBe("PgInputError")
        expect((yield* Effect.flip(conn.notify(bad, "p")))._tag).toBe("PgInputError")
      }
    }).pipe(Effect.scoped))

  it.scopedLive("the stream fails when its connection is terminated", () =>
    Effect.gen(function*() {
      const conn = yield* connectTest()
      const fiber = yield* Effect.fork(Stream.runDrain(conn.listen("dies")))
      yield* Effect.repeat(listening(conn), { until: (cs) => cs.includes("dies") })
      yield* withObserver((o) => o.query("select pg_terminate_backend($1)", [conn.backendPid]))
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") expect(exit.cause.error._tag).toBe("PgConnectionError")
      expect(conn.isBroken).toBe(true)
    }))
})

describe("PgConnection.listenResilient", () => {
  it.scopedLive(
    "survives pg_terminate_backend of its connection: reconnects, re-LISTENs, signals the gap",
    () =>
      Effect.gen(function*() {
        const sender = yield* connectTest()
        const events: Array<PgConnection.ListenEvent> = []
        const fiber = yield* Effect.fork(
          Stream.runForEach(
            PgConnection.listenResilient(testConfig(), "resilient", { schedule: Schedule.spaced("100 millis") }),
            (e) => Effect.sync(() => events.push(e))
          )
        )
        const until = (pred: () => boolean) =>
          Effect.repeat(Effect.sleep("20 millis"), { until: pred }).pipe(Effect.timeout("20 seconds"))
        yield* until(() => events.length >= 1)
        expect(events[0]).toEqual({ _tag: "Listening", reconnected: false })
        yield* sender.notify("resilient", "before")
        yield* until(() => events.length >= 2)
        const pid = (events[1] as { notification: PgConnection.Notification }).notification.pid
        expect(pid).toBe(sender.backendPid)
        const listener = yield* sender.query(
          "select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and query ilike 'listen%'"
        )
        expect(listener.rows).toHaveLength(1)
        yield* sender.query("select pg_terminate_backend($1)", [listener.rows[0]!.pid])
        yield* until(() => events.some((e) => e._tag === "Listening" && e.reconnected))
        yield* sender.notify("resilient", "after")
        yield* until(() => events.some((e) => e._tag === "Notification" && e.notification.payload === "after"))
        expect(events.map((e) => e._tag === "Listening" ? `L${e.reconnected}` : e.notification.payload)).toEqual([
          "Lfalse",
          "before",
          "Ltrue",
          "after"
        ])
        yield* Fiber.interrupt(fiber)
      }),
    { timeout: 60_000 }
  )

  it.scopedLive("fails once the schedule is exhausted (server unreachable)", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Stream.runDrain(
          PgConnection.listenResilient(testConfig({ port: 1, connectTimeout: "1 second" }), "x", {
            schedule: Schedule.recurs(2)
          })
        )
      )
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") expect(exit.cause.error._tag).toBe("PgConnectionError")
    }))
})
