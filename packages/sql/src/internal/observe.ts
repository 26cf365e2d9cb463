/**
 * Spans and metrics of statements, after the OpenTelemetry database conventions.
 */
import type * as PgError from "@berth/pg/PgError"
import { Effect, Metric, MetricBoundaries, Predicate } from "effect"

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

const durationMetrics = new Map<string, Metric.Metric.Histogram<number>>()
const errorMetrics = new Map<string, Metric.Metric.Counter<number>>()

// Tagged metrics are cached: tagging allocates a new metric key per call otherwise.
const durationFor = (pool: string, operation: string): Metric.Metric.Histogram<number> => {
  const key = `${pool}\u0000${operation}`
  let metric = durationMetrics.get(key)
  if (metric === undefined) {
    metric = Metric.tagged(Metric.tagged(operationDuration, "db_operation_name", operation), "pool", pool)
    durationMetrics.set(key, metric)
  }
  return metric
}

const errorsFor = (pool: string, code: string): Metric.Metric.Counter<number> => {
  const key = `${pool}\u0000${code}`
  let metric = errorMetrics.get(key)
  if (metric === undefined) {
    metric = Metric.tagged(Metric.tagged(operationErrors, "db_response_status_code", code), "pool", pool)
    errorMetrics.set(key, metric)
  }
  return metric
}

/**
 * Wraps one statement in a span (when enabled) and records its duration and failure.
 */
export const statement = <A, E extends PgError.PgError | { readonly _tag: string }, R>(
  target: Target,
  sql: string,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  const operation = operationName(sql)
  const timed = Effect.suspend(() => {
    const start = performance.now()
    return Effect.onExit(effect, (exit) => {
      const seconds = (performance.now() - start) / 1000
      const recorded = Metric.update(durationFor(target.pool, operation), seconds)
      if (exit._tag === "Success") return recorded
      const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
      if (failure === undefined) return recorded
      return Effect.zipRight(
        recorded,
        Metric.increment(errorsFor(target.pool, statusCode(failure)))
      )
    })
  })
  if (!target.spans) return timed
  return Effect.withSpan(
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
}
