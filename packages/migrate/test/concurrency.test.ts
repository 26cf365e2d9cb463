import { MigrationSource, Migrator } from "@berth/migrate"
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, Fiber, Layer, Schedule } from "effect"
import * as Lock from "../src/internal/lock.js"
import { exec, freshSchema, query, SqlLive } from "./helpers.js"

const waitFor = <E, R>(check: Effect.Effect<boolean, E, R>) =>
  check.pipe(
    Effect.filterOrFail((ok) => ok),
    Effect.retry({ times: 1500, schedule: Schedule.spaced("20 millis") }),
    Effect.orDie
  )

describe("concurrent runners", () => {
  it.live("8 runners starting at once apply each migration exactly once", () =>
    Effect.gen(function*() {
      const schema = freshSchema("c")
      yield* exec(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.log (version int, pid int)`)
      const migrations = Array.from({ length: 6 }, (_, i) => ({
        version: i + 1,
        name: `step_${i + 1}`,
        up: `SELECT pg_sleep(0.2); INSERT INTO ${schema}.log VALUES (${i + 1}, pg_backend_pid());
CREATE TABLE ${schema}.t${i + 1} (id int);`
      }))
      const source = MigrationSource.make(migrations)
      const waits: Array<string> = []
      const runner = (n: number) =>
        Migrator.up({
          source,
          table: `${schema}.history`,
          appliedBy: `runner-${n}`,
          onEvent: (e) => Effect.sync(() => e._tag === "LockWaiting" && waits.push(`runner-${n}`))
        }).pipe(Effect.provide(SqlLive({ applicationName: `runner-${n}`, maxConnections: 2 })))
      const results = yield* Effect.all(Array.from({ length: 8 }, (_, n) => runner(n)), { concurrency: "unbounded" })
      const applied = results.flatMap((r) => r.steps.map((s) => s.version)).sort((a, b) => a - b)
      expect(applied).toEqual([1, 2, 3, 4, 5, 6])
      const log = yield* query<{ version: number; n: string }>(
        `SELECT version, count(*)::text AS n FROM ${schema}.log GROUP BY version ORDER BY version`
      )
      expect(log).toEqual(migrations.map((m) => ({ version: m.version, n: "1" })))
      const rows = yield* query<{ n: string }>(
        `SELECT count(*)::text AS n FROM ${schema}.history WHERE status = 'applied'`
      )
      expect(rows[0]?.n).toBe("6")
      // They really did contend for the lock.
      expect(waits.length).toBeGreaterThan(0)
      // And nobody kept it: a fail-fast runner gets it at once.
      yield* Migrator.up({ source, table: `${schema}.history`, wait: false, onEvent: () => Effect.void })
    }).pipe(Effect.provide(SqlLive())))

  it.live("migrations run on the session that holds the lock; others fail fast or time out naming it", () =>
    Effect.gen(function*() {
      const schema = freshSchema("l")
      const inside = yield* Deferred.make<number>()
      const release = yield* Deferred.make<void>()
      const source = MigrationSource.make([{
        version: 1,
        name: "hold",
        up: Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const [row] = yield* sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`
          yield* Deferred.succeed(inside, row!.pid)
          yield* Deferred.await(release)
        })
      }])
      const opts = { source, table: `${schema}.history`, onEvent: () => Effect.void }
      const holder = yield* Effect.fork(Migrator.up(opts).pipe(Effect.provide(SqlLive())))
      const pid = yield* Deferred.await(inside)

      const busy = yield* Effect.flip(Migrator.up({ ...opts, wait: false }))
      expect(busy).toMatchObject({
        _tag: "LockError",
        reason: "busy",
        holder: { pid, applicationName: "berth-migrate-test" }
      })
      expect(busy.message).toContain(`pid ${pid}`)

      const timedOut = yield* Effect.flip(Migrator.up({ ...opts, lockTimeout: "300 millis" }))
      expect(timedOut).toMatchObject({ _tag: "LockError", reason: "timeout", holder: { pid } })
      if (timedOut._tag === "LockError") expect(timedOut.waitedMillis).toBeGreaterThanOrEqual(300)

      yield* Deferred.succeed(release, undefined)
      const result = yield* Fiber.join(holder)
      expect(result.steps).toHaveLength(1)
    }).pipe(Effect.provide(SqlLive())))

  it.live("a runner waiting for the lock can be interrupted at once, and leaves no lock behind", () =>
    Effect.gen(function*() {
      const schema = freshSchema("intr")
      const table = `${schema}_h.history`
      const inside = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const waiting = yield* Deferred.make<void>()
      const source = MigrationSource.make([{
        version: 1,
        name: "hold",
        up: Effect.zipRight(Deferred.succeed(inside, undefined), Deferred.await(release))
      }])
      const holder = yield* Effect.fork(
        Migrator.up({ source, table, onEvent: () => Effect.void }).pipe(Effect.provide(SqlLive()))
      )
      yield* Deferred.await(inside)
      const waiter = yield* Effect.fork(
        Migrator.up({
          source,
          table,
          lockTimeout: "60 seconds",
          onEvent: (e) => e._tag === "LockWaiting" ? Deferred.succeed(waiting, undefined) : Effect.void
        }).pipe(Effect.provide(SqlLive({ applicationName: "waiter" })))
      )
      yield* Deferred.await(waiting)
      // Far sooner than the 60 s lock timeout.
      yield* Fiber.interrupt(waiter).pipe(Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => "stuck" }))
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      const [locks] = yield* query<{ n: string }>(
        `SELECT count(*)::text AS n FROM pg_locks WHERE locktype = 'advisory'`
      )
      expect(locks?.n).toBe("0")
    }).pipe(Effect.provide(SqlLive())))

  it.live("a runner whose connection is killed fails promptly; the server drops its lock and rolls back", () =>
    Effect.gen(function*() {
      const schema = freshSchema("kill")
      const table = `${schema}_h.history`
      const slow = MigrationSource.make([{
        version: 1,
        name: "create",
        up: `CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.t (id int); SELECT pg_sleep(60);`
      }])
      const victim = yield* Effect.fork(
        Migrator.up({ source: slow, table, onEvent: () => Effect.void }).pipe(
          Effect.either,
          Effect.provide(SqlLive({ applicationName: "victim" }))
        )
      )
      yield* waitFor(Effect.map(
        query<{ n: string }>(
          `SELECT count(*)::text AS n FROM pg_stat_activity WHERE application_name = 'victim' AND query LIKE '%pg_sleep(60)%'`
        ),
        (rows) => rows[0]?.n === "1"
      ))
      yield* query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'victim'`)
      const outcome = yield* Fiber.join(victim).pipe(Effect.timeout("20 seconds"))
      expect(Either.isLeft(outcome)).toBe(true)
      // Nothing of the migration survived, and the lock is free at once.
      const [ns] = yield* query<{ n: string }>(
        `SELECT count(*)::text AS n FROM pg_namespace WHERE nspname = '${schema}'`
      )
      expect(ns?.n).toBe("0")
      const fast = MigrationSource.make([{
        version: 1,
        name: "create",
        up: `CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.t (id int);`
      }])
      const retry = yield* Migrator.up({ source: fast, table, wait: false, onEvent: () => Effect.void })
      expect(retry.steps.map((s) => s.version)).toEqual([1])
    }).pipe(Effect.provide(SqlLive())))

  it.live("an unqualified table name and its schema-qualified spelling share one lock", () =>
    Effect.gen(function*() {
      const name = `hist_${freshSchema("q")}`
      const inside = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const source = MigrationSource.make([{
        version: 1,
        name: "hold",
        up: Effect.zipRight(Deferred.succeed(inside, undefined), Deferred.await(release))
      }])
      const holder = yield* Effect.fork(
        Migrator.up({ source, table: name, onEvent: () => Effect.void }).pipe(Effect.provide(SqlLive()))
      )
      yield* Deferred.await(inside)
      const busy = yield* Effect.flip(
        Migrator.up({ source, table: `public.${name}`, wait: false, onEvent: () => Effect.void })
      )
      expect(busy).toMatchObject({ _tag: "LockError", reason: "busy" })
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      expect((yield* Migrator.status({ source, table: `public.${name}` })).current).toBe(1)
    }).pipe(Effect.provide(SqlLive())))

  it.live("CREATE INDEX CONCURRENTLY in a no-transaction migration completes while another runner waits", () =>
    Effect.gen(function*() {
      const schema = freshSchema("cic")
      const otherWaiting = yield* Deferred.make<void>()
      const otherEvents: Array<string> = []
      const source = MigrationSource.make([
        {
          version: 1,
          name: "table",
          up: `CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.t (id int, v text);
INSERT INTO ${schema}.t SELECT g, md5(g::text) FROM generate_series(1, 20000) g;`
        },
        // Holds the lock until the second runner is known to be waiting for it.
        { version: 2, name: "barrier", up: Deferred.await(otherWaiting) },
        {
          version: 3,
          name: "index",
          up: `CREATE INDEX CONCURRENTLY t_v ON ${schema}.t (v)`,
          transactional: false
        }
      ])
      const opts = { source, table: `${schema}_h.history`, lockTimeout: "60 seconds" as const }
      const first = yield* Effect.fork(
        Migrator.up({ ...opts, onEvent: () => Effect.void }).pipe(Effect.provide(SqlLive({ applicationName: "first" })))
      )
      // Start the second runner once the first holds the lock (migration 2 is running).
      yield* waitFor(Effect.map(
        query<{ n: string }>(`SELECT count(*)::text AS n FROM pg_namespace WHERE nspname = '${schema}'`),
        (rows) => rows[0]?.n === "1"
      ))
      const second = yield* Effect.fork(
        Migrator.up({
          ...opts,
          onEvent: (e) =>
            Effect.zipRight(
              Effect.sync(() => otherEvents.push(e._tag)),
              e._tag === "LockWaiting" ? Deferred.succeed(otherWaiting, undefined) : Effect.void
            )
        }).pipe(Effect.provide(SqlLive({ applicationName: "second" })))
      )
      const [a, b] = yield* Effect.all([Fiber.join(first), Fiber.join(second)]).pipe(Effect.timeout("45 seconds"))
      expect(a.steps.map((s) => s.version)).toEqual([1, 2, 3])
      expect(b.steps).toEqual([])
      expect(otherEvents).toContain("LockWaiting")
      const [index] = yield* query<{ valid: boolean }>(
        `SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = '${schema}.t_v'::regclass`
      )
      expect(index?.valid).toBe(true)
    }).pipe(Effect.provide(SqlLive())))

  it.live("control: a waiter blocked in pg_advisory_lock (the naive way) deadlocks with CREATE INDEX CONCURRENTLY", () =>
    Effect.gen(function*() {
      const schema = freshSchema("naive")
      const table = `${schema}_h.history`
      const blocked = yield* Deferred.make<void>()
      const source = MigrationSource.make([
        { version: 1, name: "table", up: `CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.t (id int)` },
        { version: 2, name: "barrier", up: Deferred.await(blocked) },
        { version: 3, name: "index", up: `CREATE INDEX CONCURRENTLY t_id ON ${schema}.t (id)`, transactional: false }
      ])
      const runner = yield* Effect.fork(
        Migrator.up({ source, table, onEvent: () => Effect.void }).pipe(Effect.either, Effect.provide(SqlLive()))
      )
      yield* waitFor(Effect.map(
        query<{ n: string }>(`SELECT count(*)::text AS n FROM pg_namespace WHERE nspname = '${schema}'`),
        (rows) => rows[0]?.n === "1"
      ))
      // A second "runner" that waits the way golang-migrate does: blocked inside the call.
      const naive = yield* Effect.fork(
        Effect.scoped(Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const conn = yield* sql.reserve
          yield* conn.executeUnprepared("SET lock_timeout = '20s'", [], undefined)
          return yield* conn.executeUnprepared(`SELECT pg_advisory_lock(${Lock.key(table)}::bigint)`, [], undefined)
        })).pipe(Effect.either, Effect.provide(SqlLive({ applicationName: "naive" })))
      )
      yield* waitFor(Effect.map(
        query<{ n: string }>(
          `SELECT count(*)::text AS n FROM pg_stat_activity WHERE application_name = 'naive' AND wait_event_type = 'Lock'`
        ),
        (rows) => rows[0]?.n === "1"
      ))
      yield* Deferred.succeed(blocked, undefined)
      const [ours, theirs] = yield* Effect.all([Fiber.join(runner), Fiber.join(naive)])
      // PostgreSQL's deadlock detector breaks the cycle by failing one side with 40P01.
      const codeOf = (r: Either.Either<unknown, unknown>) => {
        if (Either.isRight(r)) return []
        const e = r.left as { error?: { code?: string }; cause?: { code?: string } }
        return [e.error?.code ?? e.cause?.code]
      }
      const codes = [...codeOf(ours), ...codeOf(theirs)]
      expect(codes).toContain("40P01")
    }).pipe(Effect.provide(SqlLive())))
})

describe("Effect migrations on the pinned session", () => {
  it.live("withTransaction inside a migration is a savepoint, or a real transaction in a no-transaction one", () =>
    Effect.gen(function*() {
      const schema = freshSchema("fx")
      const seen: Array<string> = []
      const source = MigrationSource.make([
        {
          version: 1,
          name: "savepoint",
          up: Effect.gen(function*() {
            const sql = yield* SqlClient.SqlClient
            yield* sql.unsafe(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.t (id int)`)
            yield* sql.unsafe(`INSERT INTO ${schema}.t VALUES (1)`)
            yield* sql.withTransaction(
              Effect.zipRight(sql.unsafe(`INSERT INTO ${schema}.t VALUES (2)`), Effect.fail("inner failure"))
            ).pipe(Effect.ignore)
          })
        },
        {
          version: 2,
          name: "own_transaction",
          transactional: false,
          up: Effect.gen(function*() {
            const sql = yield* SqlClient.SqlClient
            const [outside] = yield* sql<{ s: string }>`SELECT current_setting('transaction_isolation') AS s`
            seen.push(`outside:${outside!.s}`)
            yield* sql.withTransaction(Effect.gen(function*() {
              yield* sql`SET LOCAL lock_timeout = '1234ms'`
              const [row] = yield* sql<{ s: string }>`SELECT current_setting('lock_timeout') AS s`
              seen.push(`inside:${row!.s}`)
            }))
            const [after] = yield* sql<{ s: string }>`SELECT current_setting('lock_timeout') AS s`
            seen.push(`after:${after!.s}`)
          })
        }
      ])
      yield* Migrator.up({ source, table: `${schema}_h.history`, onEvent: () => Effect.void })
      const rows = yield* query<{ id: number }>(`SELECT id FROM ${schema}.t ORDER BY id`)
      expect(rows).toEqual([{ id: 1 }])
      expect(seen).toEqual(["outside:read committed", "inside:1234ms", "after:0"])
    }).pipe(Effect.provide(Layer.fresh(SqlLive()))))
})
