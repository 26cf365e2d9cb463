/**
 * Spans and metrics of statements, after the OpenTelemetry database conventions.
 */
import type * as PgError from "@berth/pg/PgError"
import {
  type Cause,
  Effect,
  FiberRef,
  Metric,
  MetricBoundaries,
  MetricKey,
  MetricLabel,
  Predicate,
  type Tracer
} from "effect"

/** Seconds, from 100 µs to ~30 s. */
const durationBoundaries = MetricBoundaries.exponential({ start: 0.0001, factor: 2, count: 19 })

/** @internal */
export const operationDuration = Metric.histogram(
  "db_client_operation_duration_seconds",
  durationBoundaries,
  "Duration of database statements, in seconds"
)

/** @internal */
export const operationErrors = Metric.counter("db_client_operation_errors_total", {
  description: "Statements that failed, by SQLSTATE (or the error's tag when there is none)",
  incremental: true
})

/** @internal */
export const transactionRetries = Metric.counter("db_client_transaction_retries_total", {
  description: "Transactions re-run from BEGIN after a serialization failure or deadlock",
  incremental: true
})

/** @internal */
export const transactions = Metric.counter("db_client_transactions_total", {
  description: "Transactions finished, by outcome",
  incremental: true
})

const operationCache = new Map<string, string>()

/** The first keyword of a statement (`SELECT`, `INSERT`, ...), for span names and labels. */
export const operationName = (sql: string): string => {
  const cached = operationCache.get(sql)
  if (cached !== undefined) return cached
  const match = /^\s*(?:--[^\n]*\n\s*)*([A-Za-z]+)/.exec(sql)
  const name = match?.[1] === undefined ? "SQL" : match[1].toUpperCase()
  if (operationCache.size > 2048) operationCache.clear()
  operationCache.set(sql, name)
  return name
}

/** The SQLSTATE of a failure, or the error's tag. */
export const statusCode = (error: unknown): string => {
  if (Predicate.hasProperty(error, "code") && typeof error.code === "string") return error.code
  if (Predicate.hasProperty(error, "_tag") && typeof error._tag === "string") return error._tag
  return "unknown"
}

/** @internal */
export interface Target {
  readonly pool: string
  readonly database: string
  readonly host: string
  readonly port: number
  readonly spans: boolean
}

// Metrics with their labels baked into the key. `Metric.tagged` derives a new key (and a
// registry lookup) on every update, which showed up in profiles of the statement hot path.
const labelled = new Map<string, unknown>()

const cachedMetric = <M>(id: string, make: () => M): M => {
  let metric = labelled.get(id) as M | undefined
  if (metric === undefined) {
    metric = make()
    labelled.set(id, metric)
  }
  return metric
}

const labels = (pairs: ReadonlyArray<readonly [string, string]>) => pairs.map(([k, v]) => MetricLabel.make(k, v))

/** The duration histogram of one operation of one pool. */
export const durationFor = (pool: string, operation: string): Metric.Metric.Histogram<number> =>
  cachedMetric(`d/${pool}/${operation}`, () =>
    Metric.fromMetricKey(
      MetricKey.taggedWithLabels(
        MetricKey.histogram(
          "db_client_operation_duration_seconds",
          durationBoundaries,
          "Duration of database statements, in seconds"
        ),
        labels([["db_operation_name", operation], ["pool", pool]])
      )
    ))

const counterFor = (
  name: string,
  description: string,
  pairs: ReadonlyArray<readonly [string, string]>
): Metric.Metric.Counter<number> =>
  cachedMetric(`c/${name}/${pairs.map(([k, v]) => `${k}=${v}`).join("/")}`, () =>
    Metric.fromMetricKey(
      MetricKey.taggedWithLabels(MetricKey.counter(name, { description, incremental: true }), labels(pairs))
    ))

/** The error counter of one SQLSTATE of one pool. */
export const errorsFor = (pool: string, code: string): Metric.Metric.Counter<number> =>
  counterFor(
    "db_client_operation_errors_total",
    "Statements that failed, by SQLSTATE (or the error's tag when there is none)",
    [["db_response_status_code", code], ["pool", pool]]
  )

/** The transaction counter of one outcome. */
export const transactionsFor = (outcome: string): Metric.Metric.Counter<number> =>
  counterFor("db_client_transactions_total", "Transactions finished, by outcome", [["outcome", outcome]])

/** The retry counter of one SQLSTATE. */
export const retriesFor = (code: string): Metric.Metric.Counter<number> =>
  counterFor(
    "db_client_transaction_retries_total",
    "Transactions re-run from BEGIN after a serialization failure or deadlock",
    [["db_response_status_code", code]]
  )

// Effect's built-in tracer only keeps spans in memory; when no real tracer is installed, a
// span per statement is pure cost (about 40% of a small statement), so statements skip it.
const nativeTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

/** Whether spans built under `tracer` go anywhere (false for Effect's built-in tracer). */
export const isRecording = (tracer: Tracer.Tracer): boolean => tracer !== nativeTracer

/**
 * `Effect.withSpan`, skipped while only Effect's built-in tracer is installed.
 */
export const withOptionalSpan = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  name: string,
  options: Tracer.SpanOptions
): Effect.Effect<A, E, R> =>
  // the span is only built when it will be recorded: building it costs as much as skipping it
  Effect.tracerWith((tracer) => tracer === nativeTracer ? effect : Effect.withSpan(effect, name, options))

/** What a statement's observation needs, computed once per SQL text and pool. */
interface Observed {
  readonly operation: string
  readonly duration: Metric.Metric.Histogram<number>
}

const observedCache = new Map<string, Map<string, Observed>>()

const observedFor = (pool: string, sql: string): Observed => {
  let byPool = observedCache.get(pool)
  if (byPool === undefined) {
    byPool = new Map()
    observedCache.set(pool, byPool)
  }
  let observed = byPool.get(sql)
  if (observed === undefined) {
    const operation = operationName(sql)
    observed = { operation, duration: durationFor(pool, operation) }
    if (byPool.size > 2048) byPool.clear()
    byPool.set(sql, observed)
  }
  return observed
}

/**
 * What {@link statement} records, for a runner that reports the end of the statement itself
 * (a lane): call the result once with the failure, or `undefined` on success. The clock starts
 * now; `labels` are the fiber's metric labels.
 */
export const completion = (
  target: Target,
  sql: string,
  labels: ReadonlyArray<MetricLabel.MetricLabel>
): Done => {
  const { duration } = observedFor(target.pool, sql)
  const start = performance.now()
  return (failure) => {
    duration.unsafeUpdate((performance.now() - start) / 1000, labels)
    if (failure !== undefined && failure._tag === "Fail") {
      errorsFor(target.pool, statusCode(failure.error)).unsafeUpdate(1, labels)
    }
  }
}

/**
 * Told once, synchronously and uninterruptibly, how a statement ended: its failure, or
 * `undefined` for a success. Lanes and sessions call it from the uninterruptible end they
 * already have, so recording metrics needs no second region around the statement.
 */
export type Done = (failure: Cause.Cause<unknown> | undefined) => void

/**
 * Wraps one statement in a span (when enabled) and records its duration and failure.
 */
export const statement = <A, E extends PgError.PgError | { readonly _tag: string }, R>(
  target: Target,
  sql: string,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  const { operation } = observedFor(target.pool, sql)
  // metrics are updated synchronously, with the fiber's metric labels as `Metric.update` would
  const timed = Effect.withFiberRuntime<A, E, R>((fiber) => {
    const done = completion(target, sql, fiber.getFiberRef(FiberRef.currentMetricLabels))
    return Effect.onExit(effect, (exit) => {
      done(exit._tag === "Failure" ? exit.cause : undefined)
      return Effect.void
    })
  })
  if (!target.spans) return timed
  // the span is only built when a real tracer will record it
  return Effect.tracerWith((tracer) =>
    tracer === nativeTracer ? timed : Effect.withSpan(
      Effect.tapError(timed, (error) => Effect.annotateCurrentSpan("db.response.status_code", statusCode(error))),
      operation,
      {
        kind: "client",
        captureStackTrace: false,
        attributes: {
          "db.system.name": "postgresql",
          "db.namespace": target.database,
          "db.query.text": sql,
          "db.operation.name": operation,
          "server.address": target.host,
          "server.port": target.port
        }
      }
    )
  )
}
