import { Db, Metrics, Retry, Tx } from "@berth/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option } from "effect"
import { createTable, DbTest, recordingTracer } from "./util.js"

describe("Observability", () => {
  it.live("a span per statement with the OpenTelemetry database attributes", () => {
    const recorder = recordingTracer()
    return Effect.gen(function*() {
      yield* Db.query("select $1::int as v", [1])
      yield* Effect.ignore(Db.query("select 1/0"))
      const select = recorder.spans.find((s) =>
        s.name === "SELECT" && s.attributes.get("db.query.text") === "select $1::int as v"
      )
      expect(select).toBeDefined()
      expect(select?.attributes.get("db.system.name")).toBe("postgresql")
      expect(select?.attributes.get("db.operation.name")).toBe("SELECT")
      expect(typeof select?.attributes.get("db.namespace")).toBe("string")
      expect(typeof select?.attributes.get("server.port")).toBe("number")
      const failed = recorder.spans.find((s) => s.attributes.get("db.query.text") === "select 1/0")
      expect(failed?.attributes.get("db.response.status_code")).toBe("22012")
    }).pipe(Effect.provide(DbTest()), Effect.provide(recorder.layer))
  })

  it.live("durations, errors by SQLSTATE, transactions and retries are metrics in the Prometheus exposition", () =>
    Effect.gen(function*() {
      yield* createTable("obs", "x int primary key")
      yield* Db.execute("insert into obs values (1)")
      yield* Effect.ignore(Db.execute("insert into obs values (1)"))
      let attempts = 0
      yield* Tx.transaction(
        Effect.suspend((): Effect.Effect<number, unknown, Db.Db> =>
          ++attempts === 1 ? Effect.fail({ code: "40001" }) : Db.execute("update obs set x = 2")
        ),
        { retry: Retry.exponential({ base: "1 millis", maxRetries: 3 }) }
      )
      const text = yield* Metrics.prometheus
      expect(text).toContain("# TYPE db_client_operation_duration_seconds histogram")
      expect(text).toMatch(
        /db_client_operation_duration_seconds_count\{db_operation_name="INSERT",pool="obs-pool"\} [1-9]/
      )
      expect(text).toMatch(/db_client_operation_errors_total\{db_response_status_code="23505",pool="obs-pool"\} [1-9]/)
      expect(text).toMatch(/db_client_transaction_retries_total\{db_response_status_code="40001"\} [1-9]/)
      expect(text).toMatch(/db_client_transactions_total\{outcome="commit"\} [1-9]/)
      expect(Option.isSome(Option.fromNullable(text.match(/db_pool_/)))).toBe(true)
      // labels the caller scoped with Effect.tagMetrics are kept
      yield* Effect.tagMetrics(Db.query("select 1 as tagged"), "tenant", "acme")
      const tagged = yield* Metrics.prometheus
      expect(tagged).toMatch(
        /db_client_operation_duration_seconds_count\{db_operation_name="SELECT",pool="obs-pool",tenant="acme"\} 1/
      )
    }).pipe(Effect.provide(DbTest({ name: "obs-pool" }))))

  it.live("an interrupted statement's duration is recorded; its interruption is not an error", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.tagMetrics(Db.query("select pg_sleep(10)"), "case", "interrupted"))
      yield* Effect.sleep("200 millis")
      yield* Fiber.interrupt(fiber)
      const text = yield* Metrics.prometheus
      expect(text).toMatch(
        /db_client_operation_duration_seconds_count\{db_operation_name="SELECT",pool="obs-int",case="interrupted"\} 1/
      )
      expect(text).not.toMatch(/db_client_operation_errors_total\{[^}]*pool="obs-int"/)
      // and through a session (a transaction), which records in its lock's release instead
      yield* Effect.ignore(Tx.transaction(Effect.timeout(Db.query("select pg_sleep(10) as in_tx"), "200 millis")))
      const after = yield* Metrics.prometheus
      expect(after).toMatch(/db_client_operation_duration_seconds_count\{db_operation_name="SELECT",pool="obs-int"\} 1/)
    }).pipe(Effect.provide(DbTest({ name: "obs-int" }))))

  it.live("statements in a transaction record their duration once, and their errors by SQLSTATE", () =>
    Effect.gen(function*() {
      const leaked = yield* Tx.transaction(
        Effect.gen(function*() {
          yield* Db.query("select 1 as ok")
          // a savepoint, so the transaction survives the failure
          yield* Effect.ignore(Tx.transaction(Db.query("select 1/0 as boom")))
          // a fiber forked inside, whose statement runs after the transaction ended
          return yield* Effect.fork(Effect.zipRight(Effect.sleep("100 millis"), Db.query("select 2 as late")))
        })
      )
      const late = yield* Fiber.await(leaked)
      expect(late._tag).toBe("Failure")
      const text = yield* Metrics.prometheus
      // "select 1 as ok", the failing "select 1/0" and the refused late one: three SELECTs
      expect(text).toMatch(/db_client_operation_duration_seconds_count\{db_operation_name="SELECT",pool="obs-tx"\} 3/)
      expect(text).toMatch(/db_client_operation_errors_total\{db_response_status_code="22012",pool="obs-tx"\} 1/)
      expect(text).toMatch(
        /db_client_operation_errors_total\{db_response_status_code="TxClosedError",pool="obs-tx"\} 1/
      )
    }).pipe(Effect.provide(DbTest({ name: "obs-tx" }))))
})
