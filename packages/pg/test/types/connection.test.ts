/**
 * End to end through our own connection: parameters encoded by the registry, results decoded by
 * it, whatever result format the connection requests.
 */
import * as PgConfig from "@berth/pg/PgConfig"
import * as PgConnection from "@berth/pg/PgConnection"
import * as PgTypes from "@berth/pg/PgTypes"
import * as TestDatabase from "@berth/testing/TestDatabase"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"

const connect = (types?: PgTypes.TypeRegistry) => {
  const db = TestDatabase.current()
  return PgConnection.connect(
    PgConfig.make({
      host: db.host,
      port: db.port,
      user: db.user,
      database: db.database,
      ...(db.password !== "" ? { password: db.password } : {}),
      sslmode: "disable"
    }),
    types === undefined ? {} : { types }
  )
}

describe("PgTypes through PgConnection", () => {
  it.scoped("parameters and results of every built-in type", () =>
    Effect.gen(function*() {
      const conn = yield* connect()
      const when = new Date("2024-02-29T12:34:56.789Z")
      const interval = PgTypes.Interval.make({ years: 1, days: -2, hours: 3, microseconds: 4 })
      const bytes = new Uint8Array([0, 1, 254, 255])
      const r = yield* conn.query(
        `select $1::bool as b, $2::int2 as i2, $3::int4 as i4, $4::int8 as i8, $5::float8 as f8,
                $6::numeric as n, $7::text as t, $8::bytea as by, $9::jsonb as j, $10::uuid as u,
                $11::timestamptz as tz, $12::timestamp as ts, $13::date as d, $14::interval as iv,
                $15::int4[] as a1, $16::text[] as a2, $17::float8 as nan, $18::float4 as f4`,
        [
          true,
          -32768,
          2147483647,
          -9223372036854775808n,
          0.1,
          "123456789012345678901234567890.123456789",
          "héllo \"world\"",
          bytes,
          { a: [1, { b: null }] },
          "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
          when,
          when,
          new Date("2024-02-29T00:00:00Z"),
          interval,
          [[1, null], [3, 4]],
          ["a,b", null, "NULL", "\\"],
          NaN,
          0.1
        ]
      )
      expect(r.rows[0]).toEqual({
        b: true,
        i2: -32768,
        i4: 2147483647,
        i8: -9223372036854775808n,
        f8: 0.1,
        n: "123456789012345678901234567890.123456789",
        t: "héllo \"world\"",
        by: bytes,
        j: { a: [1, { b: null }] },
        u: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        tz: when,
        ts: when,
        d: new Date("2024-02-29T00:00:00Z"),
        iv: interval,
        a1: [[1, null], [3, 4]],
        a2: ["a,b", null, "NULL", "\\"],
        nan: NaN,
        f4: 0.1
      })
    }))

  it.scoped("registry options reach the connection", () =>
    Effect.gen(function*() {
      const conn = yield* connect(PgTypes.make({ int8: "string", dates: "string", numeric: "number" }))
      const r = yield* conn.query(
        "select 9223372036854775807::int8 as i, timestamptz '2024-01-02 03:04:05.123456+00' as t, 1.5::numeric as n"
      )
      expect(r.rows[0]).toEqual({
        i: "9223372036854775807",
        t: expect.stringMatching(/^2024-01-0\d \d\d:04:05\.123456/),
        n: 1.5
      })
    }))

  it.scoped("a value the registry cannot encode fails the statement with a typed error", () =>
    Effect.gen(function*() {
      const conn = yield* connect()
      const exit = yield* Effect.exit(conn.query("select $1::text", [new Map([["secret", 1]])]))
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
        expect(exit.cause.error.message).toMatch(/Map/)
        expect(exit.cause.error.message).not.toMatch(/secret/)
      } else {
        expect.fail(`expected a typed failure, got ${String(exit)}`)
      }
      const ok = yield* conn.query("select 1 as one")
      expect(ok.rows).toEqual([{ one: 1 }])
    }))
  it.scoped("a value the registry cannot decode fails the statement with a typed error", () =>
    Effect.gen(function*() {
      const conn = yield* connect()
      const exit = yield* Effect.exit(conn.query("select timestamp '294276-01-01 00:00:00' as t"))
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
        expect(exit.cause.error._tag).toBe("PgDecodeError")
        expect(exit.cause.error.message).toMatch(/JavaScript Date/)
      } else {
        expect.fail(`expected a typed failure, got ${String(exit)}`)
      }
      const ok = yield* conn.query("select 1 as one")
      expect(ok.rows).toEqual([{ one: 1 }])
    }))
})
