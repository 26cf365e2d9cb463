import { Conn, Db } from "@berth/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer } from "effect"
import { DbTest } from "./util.js"

const pid = Effect.map(Db.query("select pg_backend_pid() as pid"), (rows) => rows[0]?.pid)

describe("Conn", () => {
  it.live("a pinned session keeps temp tables and settings across statements", () =>
    Effect.gen(function*() {
      const pids = yield* Conn.withConn(Effect.gen(function*() {
        yield* Db.execute("create temporary table scratch(x int)")
        yield* Db.execute("set search_path = pg_temp, public")
        yield* Db.execute("insert into scratch values (1), (2)")
        const rows = yield* Db.query("select count(*)::int as n from scratch")
        expect(rows).toEqual([{ n: 2 }])
        return yield* Effect.all([pid, pid, pid], { concurrency: 3 })
      }))
      expect(new Set(pids).size).toBe(1)
    }).pipe(Effect.provide(DbTest({ maxOpen: 4, resetOnRelease: true }))))

  it.live("a fiber that outlives the pinned scope gets TxClosedError", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.scoped(Effect.gen(function*() {
        yield* Conn.pin
        return yield* Effect.forkDaemon(Effect.zipRight(Effect.sleep("100 millis"), Db.query("select 1")))
      }))
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") expect(exit.cause.error._tag).toBe("TxClosedError")
    }).pipe(Effect.provide(DbTest())))

  it.live("Conn.layer pins one connection for everything it is provided to", () =>
    Effect.gen(function*() {
      const pids = yield* Effect.all([pid, pid, pid, pid], { concurrency: "unbounded" })
      expect(new Set(pids).size).toBe(1)
    }).pipe(Effect.provide(Conn.layer.pipe(Layer.provideMerge(DbTest())))))
})
