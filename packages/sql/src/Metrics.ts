/**
 * The data layer's metrics, and a Prometheus text exposition of every Effect metric (the
 * pool's gauges and counters from `@berth/pool` included).
 *
 * | metric | type | labels |
 * | --- | --- | --- |
 * | `db_client_operation_duration_seconds` | histogram | `db_operation_name`, `pool` |
 * | `db_client_operation_errors_total` | counter | `db_response_status_code` (SQLSTATE), `pool` |
 * | `db_client_transactions_total` | counter | `outcome` (`commit`, `rollback`) |
 * | `db_client_transaction_retries_total` | counter | `db_response_status_code` |
 *
 * @since 0.1.0
 */
import { Effect, Metric, MetricKeyType, MetricState, Option } from "effect"
import * as Observe from "./internal/observe.js"

/**
 * Statement durations, in seconds.
 *
 * @since 0.1.0
 */
export const operationDuration = Observe.operationDuration

/**
 * Failed statements, by SQLSTATE.
 *
 * @since 0.1.0
 */
export const operationErrors = Observe.operationErrors

/**
 * Finished transactions, by outcome.
 *
 * @since 0.1.0
 */
export const transactions = Observe.transactions

/**
 * Transactions re-run after a serialization failure or deadlock, by SQLSTATE.
 *
 * @since 0.1.0
 */
export const transactionRetries = Observe.transactionRetries

const escapeLabel = (value: string): string => value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")

const labels = (tags: ReadonlyArray<{ readonly key: string; readonly value: string }>, extra?: string): string => {
  const parts = tags.map((tag) => `${tag.key}="${escapeLabel(tag.value)}"`)
  if (extra !== undefined) parts.push(extra)
  return parts.length === 0 ? "" : `{${parts.join(",")}}`
}

const sanitize = (name: string): string => name.replace(/[^a-zA-Z0-9_:]/g, "_")

/**
 * Every Effect metric of the application in the Prometheus text exposition format: serve it
 * at `/metrics`.
 *
 * @example
 * ```ts
 * import { Metrics } from "@berth/sql"
 * import { Effect } from "effect"
 *
 * const body = Effect.runSync(Metrics.prometheus)
 * ```
 *
 * @since 0.1.0
 */
export const prometheus: Effect.Effect<string> = Effect.map(Metric.snapshot, (pairs) => {
  const lines: Array<string> = []
  const typed = new Set<string>()
  for (const pair of pairs) {
    const key = pair.metricKey
    const name = sanitize(key.name)
    const state = pair.metricState
    const help = Option.getOrUndefined(key.description)
    const declare = (type: string) => {
      if (typed.has(name)) return
      typed.add(name)
      if (help !== undefined) lines.push(`# HELP ${name} ${help.replace(/\n/g, " ")}`)
      lines.push(`# TYPE ${name} ${type}`)
    }
    if (MetricState.isCounterState(state)) {
      declare("counter")
      lines.push(`${name}${labels(key.tags)} ${String(state.count)}`)
    } else if (MetricState.isGaugeState(state)) {
      declare("gauge")
      lines.push(`${name}${labels(key.tags)} ${String(state.value)}`)
    } else if (MetricState.isHistogramState(state) && MetricKeyType.isHistogramKey(key.keyType)) {
      declare("histogram")
      for (const [bound, count] of state.buckets) {
        lines.push(`${name}_bucket${labels(key.tags, `le="${Number.isFinite(bound) ? bound : "+Inf"}"`)} ${count}`)
      }
      lines.push(`${name}_bucket${labels(key.tags, `le="+Inf"`)} ${state.count}`)
      lines.push(`${name}_sum${labels(key.tags)} ${state.sum}`)
      lines.push(`${name}_count${labels(key.tags)} ${state.count}`)
    }
  }
  return lines.join("\n") + "\n"
})
