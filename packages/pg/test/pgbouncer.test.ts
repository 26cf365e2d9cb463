import * as PgConfig from "@berth/pg/PgConfig"
import * as PgConnection from "@berth/pg/PgConnection"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Stream } from "effect"
import * as Bouncer from "./fixtures/pgbouncer.js"

let bouncer: Bouncer.Bouncer | undefined
beforeAll(async () => {
  if (Bouncer.available()) bouncer = await Bouncer.start(2)
})
afterAll(async () => {
  await bouncer?.stop()
})

const viaBouncer = (options: PgConnection.ConnectOptions) =>
  PgConnection.connect(
    PgConfig.make({
      host: bouncer!.host,
      port: bouncer!.port,
      user: bouncer!.user,
      database: bouncer!.database,
      sslmode: "disable"
    }),
    options
  )

describe.skipIf(!Bouncer.available())("PgBouncer 1.18, transaction pooling", () => {
  it.scoped(
    "statementCache \"unnamed\": many clients over 2 server sessions, queries, batches and streams",
    () =>
      Effect.gen(function*() {
        const clients = yield* Effect.all(Array.from({ length: 6 }, () => viaBouncer({ statementCache: "unnamed" })))
        yield* Effect.forEach(
          clients,
          (conn, c) =>
            Effect.gen(function*() {
              for (let i = 0; i < 30; i++) {
                const r = yield* conn.query("select $1::int * 2 as n, $2::text as s", [i, `c${c}`])
                expect(r.rows).toEqual([{ n: i * 2, s: `c${c}` }])
              }
              const b = yield* conn.batchSettled([{ sql: "select 1 as one" }, { sql: "select 1/0" }])
              expect(b.map(Either.isRight)).toEqual([true, false])
              const rows = yield* Stream.runCollect(
                conn.stream("select g from generate_series(1, 500) g", [], { fetchSize: 50 })
              )
              expect(Chunk.size(rows)).toBe(500)
            }),
          { concurrency: "unbounded" }
        )
        // nothing was left prepared on the server sessions
        const left = yield* clients[0]!.query("select count(*)::int as n from pg_prepared_statements")
        expect(left.rows).toEqual([{ n: 0 }])
      }),
    { timeout: 60_000 }
  )

  it.scoped(
    "statementCache \"unnamed\": pipelined statements with interleaved errors, types and transactions",
    () =>
      Effect.gen(function*() {
        const clients = yield* Effect.all(Array.from({ length: 4 }, () => viaBouncer({ statementCache: "unnamed" })))
        yield* Effect.forEach(
          clients,
          (conn, c) =>
            Effect.gen(function*() {
              // many statements of one client on the wire at once, each its own Sync group
              const outcomes = yield* Effect.all(
                Array.from({ length: 60 }, (_, i) =>
                  Effect.either(
                    i % 9 === 4
                      ? conn.query("select 1 / ($1::int - $1::int) as n", [i])
                      : conn.query(
                        "select $1::int as n, $2::text as s, $3::int8 as big, $4::numeric as num, $5::jsonb as doc, " +
                          "$6::timestamptz as at, $7::int[] as arr",
                        [i, `c${c}-${i}`, BigInt(i) * 10_000_000_000n, "1.50", { i }, new Date(1_700_000_000_000 + i), [
                          i,
                          null
                        ]]
                      )
                  )),
                { concurrency: "unbounded" }
              )
              outcomes.forEach((outcome, i) => {
                if (i % 9 === 4) {
                  expect(outcome._tag === "Left" && "code" in outcome.left && outcome.left.code).toBe("22012")
                } else {
                  expect(outcome._tag === "Right" && outcome.right.rows[0]).toEqual({
                    n: i,
                    s: `c${c}-${i}`,
                    big: BigInt(i) * 10_000_000_000n,
                    num: "1.50",
                    doc: { i },
                    at: new Date(1_700_000_000_000 + i),
                    arr: [i, null]
                  })
                }
              })
              // a transaction keeps its server session for its duration, pipelined or not
              yield* conn.query("begin")
              const [pid1, pid2] = yield* Effect.all([
                conn.query("select pg_backend_pid() as pid"),
                conn.query("select pg_backend_pid() as pid")
              ], { concurrency: "unbounded" })
              expect(pid1.rows).toEqual(pid2.rows)
              yield* conn.query("commit")
              expect(conn.transactionStatus).toBe("idle")
            }),
          { concurrency: "unbounded" }
        )
      }),
    { timeout: 60_000 }
  )
})
