import type * as PgConnection from "@berth/pg/PgConnection"
import * as Pool from "@berth/pool/Pool"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as Lanes from "../src/internal/lanes.js"

// lanes only ask a connection whether it is broken: numbered stand-ins will do
interface Fake {
  readonly id: number
  readonly isBroken: boolean
}
const idOf = (conn: PgConnection.PgConnection): number => (conn as unknown as Fake).id

describe("Lanes", () => {
  // The race this guards against (a lane released between a statement choosing it and counting
  // itself in) is excluded by construction in `Lanes.run`; this run of interleavings checks
  // the invariant, it did not reproduce the old race with @berth/pool's real pool.
  it.scoped.each([13, 16, 19])(
    "no statement runs on a connection another user holds (yield every %i ops)",
    (maxOps) =>
      Effect.gen(function*() {
        let made = 0
        const pool = yield* Pool.make({
          acquire: Effect.sync(() => ({ id: ++made, isBroken: false }) as unknown as PgConnection.PgConnection),
          maxOpen: 1
        })
        const log: Array<string> = []
        const lanes = Lanes.make(pool, (conn) => Effect.sync(() => log.push(`clean ${idOf(conn)}`)))
        const statement = (name: string) =>
          lanes.run((conn) =>
            Effect.zipRight(Effect.yieldNow(), Effect.sync(() => log.push(`${name} ran on ${idOf(conn)}`)))
          )
        // a few operations of delay before B, a different number each round, move the point
        // where the runtime makes B yield across its whole path
        const after = (ops: number, effect: Effect.Effect<number, unknown>) =>
          Effect.zipRight(Effect.forEach(Array.from({ length: ops }), () => Effect.void, { discard: true }), effect)
        for (let round = 0; round < 64; round++) {
          log.length = 0
          const a = yield* Effect.fork(statement("A"))
          const b = yield* Effect.fork(after(round % 32, statement("B")))
          // another user of the pool (a transaction, a Conn) queues for the only connection
          const c = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
            const conn = yield* Pool.get(pool)
            log.push(`C holds ${idOf(conn)}`)
            yield* Effect.yieldNow()
            yield* Effect.yieldNow()
            log.push(`C releases ${idOf(conn)}`)
          })))
          yield* Fiber.join(a)
          yield* Fiber.join(b)
          yield* Fiber.join(c)
          // no statement runs on the connection while C holds it
          const held = log.indexOf("C holds 1")
          const released = log.indexOf("C releases 1")
          expect(held).toBeGreaterThanOrEqual(0)
          expect(log.slice(held, released).filter((l) => l.includes(" ran on "))).toEqual([])
          expect(log.filter((l) => l.includes(" ran on ")).length).toBe(2)
        }
      }).pipe(Effect.withMaxOpsBeforeYield(maxOps))
  )
})
