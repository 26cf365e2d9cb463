import * as PgConfig from "@berth/pg/PgConfig"
import * as PgConnection from "@berth/pg/PgConnection"
import type * as PgError from "@berth/pg/PgError"
import * as TestDatabase from "@berth/testing/TestDatabase"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import * as net from "node:net"
import * as Fake from "./fixtures/fakeServer.js"
import * as Proxy from "./fixtures/proxy.js"
import { connectTest, testConfig } from "./helpers.js"

const { int32, message } = Fake.frames

const failure = <A, R>(effect: Effect.Effect<A, PgError.PgError, R>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    if (Exit.isSuccess(exit)) throw new Error("expected a failure")
    if (exit.cause._tag !== "Fail") throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
    return exit.cause.error
  })

const fakeConfig = (port: number) =>
  PgConfig.make({ host: "127.0.0.1", port, user: "u", database: "d", sslmode: "disable", connectTimeout: "2 seconds" })

/** Runs one query against a scripted server; returns the error and whether the connection broke. */
const scripted = (script: Fake.Script) =>
  Effect.acquireUseRelease(
    Effect.promise(() => Fake.start(script)),
    (server) =>
      Effect.scoped(Effect.gen(function*() {
        const conn = yield* PgConnection.connect(fakeConfig(server.port), { cancelTimeout: "300 millis" })
        const error = yield* failure(
          conn.query("select 1").pipe(Effect.timeout("10 seconds")) as Effect.Effect<
            unknown,
            PgError.PgError
          >
        )
        return { error, broken: conn.isBroken }
      })),
    (server) => Effect.promise(() => server.close())
  )

/** After a fault, the process still talks to the real server. */
const stillWorks = Effect.scoped(
  Effect.gen(function*() {
    const conn = yield* connectTest()
    expect((yield* conn.query("select 1 as ok")).rows).toEqual([{ ok: 1 }])
  })
)

describe("faults and malformed input", () => {
  it.live("garbage bytes: typed protocol error, connection broken", () =>
    Effect.gen(function*() {
      const r = yield* scripted({ onQuery: Buffer.from("this is not the postgres protocol at all") })
      expect(r.error._tag).toBe("PgProtocolError")
      expect(r.broken).toBe(true)
      const binary = yield* scripted({ onQuery: Buffer.from([0x00, 0xff, 0x13, 0x37, 0x42]) })
      expect(binary.error._tag).toBe("PgProtocolError")
      expect(binary.error.message).toContain("unknown message type")
      yield* stillWorks
    }))

  it.live("an unknown message type with a valid frame: typed protocol error", () =>
    Effect.gen(function*() {
      const r = yield* scripted({ onQuery: message("~", Buffer.from("xyz")) })
      expect(r.error._tag).toBe("PgProtocolError")
      expect(r.broken).toBe(true)
    }))

  it.live("a truncated frame followed by close: typed protocol error", () =>
    Effect.gen(function*() {
      const frame = message("T", Buffer.alloc(60))
      const r = yield* scripted({ onQuery: frame.subarray(0, 20), closeAfter: true })
      expect(r.error._tag).toBe("PgProtocolError")
      expect(r.error.message).toContain("truncated")
    }))

  it.live("an impossible length: typed protocol error, no waiting for a gigabyte", () =>
    Effect.gen(function*() {
      const bogus = Buffer.concat([Buffer.from("D"), int32(0x7ffffff0), Buffer.alloc(10)])
      const r = yield* scripted({ onQuery: bogus })
      expect(r.error._tag).toBe("PgProtocolError")
      const tiny = yield* scripted({ onQuery: Buffer.concat([Buffer.from("C"), int32(2)]) })
      expect(tiny.error._tag).toBe("PgProtocolError")
    }))

  it.live("inconsistent frames: DataRow without RowDescription, overrunning values, unterminated strings", () =>
    Effect.gen(function*() {
      const orphan = yield* scripted({
        onQuery: message("D", Buffer.concat([Buffer.from([0, 1]), int32(1), Buffer.from("x")]))
      })
      expect(orphan.error._tag).toBe("PgProtocolError")
      const rowDesc = message(
        "T",
        Buffer.concat([
          Buffer.from([0, 1]),
          Buffer.from("a\0"),
          int32(0),
          Buffer.from([0, 0]),
          int32(25),
          Buffer.from([0xff, 0xff]),
          int32(-1),
          Buffer.from([0, 0])
        ])
      )
      const overrun = message("D", Buffer.concat([Buffer.from([0, 1]), int32(1000), Buffer.from("x")]))
      const r = yield* scripted({
        onQuery: Buffer.concat([message("1", Buffer.alloc(0)), message("2", Buffer.alloc(0)), rowDesc, overrun])
      })
      expect(r.error._tag).toBe("PgProtocolError")
      const unterminated = yield* scripted({ onQuery: message("C", Buffer.from("SELECT 1")) })
      expect(unterminated.error._tag).toBe("PgProtocolError")
      const lateAuth = yield* scripted({ onQuery: message("R", int32(0)) })
      expect(lateAuth.error._tag).toBe("PgProtocolError")
    }))

  it.live("a server that stalls mid-query: the timed-out caller returns, the unconfirmable connection is destroyed", () =>
    Effect.acquireUseRelease(
      Effect.promise(() => Fake.start({ onQuery: "silent" })),
      (server) =>
        Effect.scoped(Effect.gen(function*() {
          const conn = yield* PgConnection.connect(fakeConfig(server.port), { cancelTimeout: "300 millis" })
          const started = Date.now()
          const r = yield* Effect.exit(conn.query("select 1").pipe(Effect.timeout("200 millis")))
          expect(Exit.isFailure(r)).toBe(true)
          expect(Date.now() - started).toBeLessThan(2000)
          yield* conn.awaitReady
          expect(conn.isBroken).toBe(true)
        })),
      (server) => Effect.promise(() => server.close())
    ))

  it.live("a server that accepts TCP and never answers: connect timeout", () =>
    Effect.acquireUseRelease(
      Effect.promise(() => Fake.start({ startup: "silent", onQuery: "silent" })),
      (server) =>
        Effect.gen(function*() {
          const config = PgConfig.make({
            host: "127.0.0.1",
            port: server.port,
            user: "u",
            sslmode: "disable",
            connectTimeout: "300 millis"
          })
          const e = yield* failure(Effect.scoped(PgConnection.connect(config)))
          expect(e._tag).toBe("PgTimeoutError")
          if (e._tag === "PgTimeoutError") expect(e.phase).toBe("connect")
          // the same through a connection string (libpq's minimum is 2 seconds)
          const parsed = yield* PgConfig.parse(
            `host=127.0.0.1 port=${server.port} user=u sslmode=prefer connect_timeout=1`,
            {}
          )
          const started = Date.now()
          const e2 = yield* failure(Effect.scoped(PgConnection.connect(parsed)))
          expect(e2._tag).toBe("PgTimeoutError")
          expect(Date.now() - started).toBeGreaterThanOrEqual(1900)
        }),
      (server) => Effect.promise(() => server.close())
    ), 30_000)

  it.live("a server that is not listening: typed connection error", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(() =>
        new Promise<number>((resolve) => {
          const s = net.createServer()
          s.listen(0, "127.0.0.1", () => {
            const p = (s.address() as net.AddressInfo).port
            s.close(() => resolve(p))
          })
        })
      )
      const e = yield* failure(
        Effect.scoped(PgConnection.connect(PgConfig.make({ host: "127.0.0.1", port, user: "u" })))
      )
      expect(e._tag).toBe("PgConnectionError")
      if (e._tag === "PgConnectionError") expect(e.phase).toBe("connect")
      expect(e.message).toContain("ECONNREFUSED")
    }))

  it.live("the network drops mid-query (proxy): typed connection error, broken", () =>
    Effect.gen(function*() {
      const db = TestDatabase.current()
      const proxy = yield* Effect.promise(() => Proxy.start({ host: db.host, port: db.port }))
      yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* PgConnection.connect(testConfig({ host: "127.0.0.1", port: proxy.port }))
        expect((yield* conn.query("select 1 as x")).rows).toEqual([{ x: 1 }])
        const fiber = yield* Effect.fork(failure(conn.query("select pg_sleep(30)")))
        yield* Effect.sleep("100 millis")
        proxy.dropAll()
        const e = yield* Fiber.join(fiber)
        expect(e._tag).toBe("PgConnectionError")
        if (e._tag === "PgConnectionError") expect(e.phase).toBe("query")
        expect(conn.isBroken).toBe(true)
      }))
      yield* Effect.promise(() => proxy.close())
      yield* stillWorks
    }))

  it.live("a connection stalled by the network: Effect.timeout returns, the connection is destroyed", () =>
    Effect.gen(function*() {
      const db = TestDatabase.current()
      const proxy = yield* Effect.promise(() => Proxy.start({ host: db.host, port: db.port }))
      yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* PgConnection.connect(testConfig({ host: "127.0.0.1", port: proxy.port }), {
          cancelTimeout: "500 millis"
        })
        proxy.stallAll()
        proxy.blackholeNew(true)
        const r = yield* Effect.exit(conn.query("select 1").pipe(Effect.timeout("200 millis")))
        expect(Exit.isFailure(r)).toBe(true)
        yield* conn.awaitReady
        expect(conn.isBroken).toBe(true)
      }))
      yield* Effect.promise(() => proxy.close())
    }))

  it.live("interrupting connect closes the socket it opened", () =>
    Effect.acquireUseRelease(
      Effect.promise(() => Fake.start({ startup: "silent", onQuery: "silent" })),
      (server) =>
        Effect.gen(function*() {
          const config = PgConfig.make({ host: "127.0.0.1", port: server.port, user: "u", sslmode: "prefer" })
          const fiber = yield* Effect.fork(Effect.scoped(PgConnection.connect(config)))
          for (let i = 0; i < 100 && server.connections() === 0; i++) yield* Effect.sleep("10 millis")
          expect(server.connections()).toBe(1)
          yield* Fiber.interrupt(fiber)
          for (let i = 0; i < 100 && server.connections() > 0; i++) yield* Effect.sleep("10 millis")
          expect(server.connections()).toBe(0)
        }),
      (server) => Effect.promise(() => server.close())
    ))
})
