/**
 * The pool's statistics as Effect `Metric`s, named after the observability table of the
 * `database/sql` guidance (`db_pool_open_connections`, `db_pool_wait_count_total`, ...).
 * Every metric carries a `pool` label with the pool's `name`.
 *
 * The pool does not touch the metric registry on its hot path: it keeps plain counters and
 * copies them into these metrics every `metricsInterval` (default 5 seconds), when the pool
 * closes, and whenever {@link refresh} runs (call it right before an exporter scrapes if
 * you need exact figures).
 *
 * @since 0.1.0
 */
import { Effect, Metric } from "effect"
import * as internal from "./internal/pool.js"
import type { Pool } from "./Pool.js"

/**
 * Gauge: the configured `maxOpen`.
 *
 * @example
 * ```ts
 * import { Effect, Metric } from "effect"
 * import { PoolMetrics } from "@berth/pool"
 *
 * const read = Metric.value(PoolMetrics.maxOpenConnections.pipe(Metric.tagged("pool", "default")))
 * ```
 *
 * @since 0.1.0
 */
export const maxOpenConnections = Metric.gauge("db_pool_max_open_connections", {
  description: "Configured maximum number of open resources"
})

/**
 * Gauge: open resources (in use + idle), Go's `OpenConnections`. Alert when it sits at
 * `db_pool_max_open_connections`.
 *
 * @example
 * ```ts
 * import { PoolMetrics } from "@berth/pool"
 *
 * console.log(PoolMetrics.openConnections)
 * ```
 *
 * @since 0.1.0
 */
export const openConnections = Metric.gauge("db_pool_open_connections", {
  description: "Open resources (in use + idle)"
})

/**
 * Gauge: resources leased out, Go's `InUse`.
 *
 * @example
 * ```ts
 * import { PoolMetrics } from "@berth/pool"
 *
 * console.log(PoolMetrics.inUse)
 * ```
 *
 * @since 0.1.0
 */
export const inUse = Metric.gauge("db_pool_in_use", { description: "Resources leased out" })

/**
 * Gauge: idle resources, Go's `Idle`. Alert when it stays at 0.
 *
 * @example
 * ```ts
 * import { PoolMetrics } from "@berth/pool"
 *
 * console.log(PoolMetrics.idle)
 * ```
 *
 * @since 0.1.0
 */
export const idle = Metric.gauge("db_pool_idle", { description: "Idle resources" })

/**
 * Gauge: callers currently queued for a resource.
 *
 * @example
 * ```ts
 * import { PoolMetrics } from "@berth/pool"
 *
 * console.log(PoolMetrics.waiting)
 * ```
 *
 * @since 0.1.0
 */
export const waiting = Metric.gauge("db_pool_waiting", { description: "Callers waiting for a resource" })

/**
 * Gauge: resources being created right now (pgxpool's `ConstructingConns`).
 *
 * @example
 * ```ts
 * import { PoolMetrics } from "@berth/pool"
 *
 * console.log(PoolMetrics.constructing)
 * ```
 *
 * @since 0.1.0
 */
export const constructing = Metric.gauge("db_pool_constructing", { description: "Resources being created" })

/**
 * Counter: callers that had to wait, Go's `WaitCount`. Alert on `rate > 0`.
 *
 * @example
 * ```ts
 * import { PoolMetrics } from "@berth/pool"
 *
 * console.log(PoolMetrics.waitCount)
 * ```
 *
 * @since 0.1.0
 */
export const waitCount = Metric.counter("db_pool_wait_count_total", {
  description: "Callers that had to wait for a resource"
})

/**
 * Counter: total seconds spent waiting, Go's `WaitDuration`. Alert on
 * `rate(wait_seconds) / rate(wait_count) > 10ms`.
 *
 * @example
 * ```ts
 * import { PoolMetrics } from "@berth/pool"
 *
 * console.log(PoolMetrics.waitSeconds)
 * ```
 *
 * @since 0.1.0
 */
export const waitSeconds = Metric.counter("db_pool_wait_seconds_total", {
  description: "Total seconds callers spent waiting for a resource"
})

/**
 * Counter: successful acquisitions (pgxpool's `AcquireCount`).
 *
 * @example
 * ```ts
 * import { PoolMetrics } from "@berth/pool"
 *
 * console.log(PoolMetrics.acquireCount)
 * ```
 *
 * @since 0.1.0
 */
export const acquireCount = Metric.counter("db_pool_acquire_count_total", {
  description: "Successful acquisitions"
})

/**
 * Counter: total seconds spent in successful acquisitions (pgxpool's `AcquireDuration`).
 *
 * @example
 * ```ts
 * import { PoolMetrics } from "@berth/pool"
 *
 * console.log(PoolMetrics.acquireSeconds)
 * ```
 *
 * @since 0.1.0
 */
export const acquireSeconds = Metric.counter("db_pool_acquire_seconds_total", {
  description: "Total seconds spent in successful acquisitions"
})

/**
 * Counter: acquisitions abandoned by their caller (interrupted while waiting).
 *
 * @example
 * ```ts
 * import { PoolMetrics } from "@berth/pool"
 *
 * console.log(PoolMetrics.canceledAcquireCount)
 * ```
 *
 * @since 0.1.0
 */
export const canceledAcquireCount = Metric.counter("db_pool_canceled_acquire_total", {
  description: "Acquisitions interrupted while waiting"
})

/**
 * Counter: acquisitions that failed with `PoolTimeout`.
 *
 * @example
 * ```ts
 * import { PoolMetrics } from "@berth/pool"
 *
 * console.log(PoolMetrics.timeoutCount)
 * ```
 *
 * @since 0.1.0
 */
export const timeoutCount = Metric.counter("db_pool_acquire_timeouts_total", {
  description: "Acquisitions that timed out"
})

/**
 * Counter: resources created (pgxpool's `NewConnsCount`).
 *
 * @example
 * ```ts
 * import { PoolMetrics } from "@berth/pool"
 *
 * console.log(PoolMetrics.newCount)
 * ```
 *
 * @since 0.1.0
 */
export const newCount = Metric.counter("db_pool_new_connections_total", { description: "Resources created" })

/**
 * Counter: failed creations (after `createRetry`).
 *
 * @example
 * ```ts
 * import { PoolMetrics } from "@berth/pool"
 *
 * console.log(PoolMetrics.createErrorCount)
 * ```
 *
 * @since 0.1.0
 */
export const createErrorCount = Metric.counter("db_pool_create_errors_total", {
  description: "Failed resource creations"
})

/**
 * Counter: resources closed, labelled `reason` = `max_idle` | `max_idle_time` |
 * `max_lifetime` | `health_check` | `broken` | `pool_close`. The first three are Go's
 * `MaxIdleClosed`, `MaxIdleTimeClosed` and `MaxLifetimeClosed`.
 *
 * @example
 * ```ts
 * import { PoolMetrics } from "@berth/pool"
 *
 * console.log(PoolMetrics.closedCount)
 * ```
 *
 * @since 0.1.0
 */
export const closedCount = Metric.counter("db_pool_closed_total", { description: "Resources closed, by reason" })

/**
 * Counter: resources closed because `maxIdle` was reached, Go's `MaxIdleClosed` (the
 * seed's `db_pool_max_idle_closed_total`). High churn: raise `maxIdle`.
 *
 * @example
 * ```ts
 * import { PoolMetrics } from "@berth/pool"
 *
 * console.log(PoolMetrics.maxIdleClosed)
 * ```
 *
 * @since 0.1.0
 */
export const maxIdleClosed = Metric.counter("db_pool_max_idle_closed_total", {
  description: "Resources closed because maxIdle was reached"
})

/**
 * Counter: resources closed by `maxIdleTime`, Go's `MaxIdleTimeClosed`.
 *
 * @example
 * ```ts
 * import { PoolMetrics } from "@berth/pool"
 *
 * console.log(PoolMetrics.maxIdleTimeClosed)
 * ```
 *
 * @since 0.1.0
 */
export const maxIdleTimeClosed = Metric.counter("db_pool_max_idle_time_closed_total", {
  description: "Resources closed because they were idle longer than maxIdleTime"
})

/**
 * Counter: resources closed by `maxLifetime`, Go's `MaxLifetimeClosed` (the seed's
 * `db_pool_max_lifetime_closed_total`).
 *
 * @example
 * ```ts
 * import { PoolMetrics } from "@berth/pool"
 *
 * console.log(PoolMetrics.maxLifetimeClosed)
 * ```
 *
 * @since 0.1.0
 */
export const maxLifetimeClosed = Metric.counter("db_pool_max_lifetime_closed_total", {
  description: "Resources closed because they outlived maxLifetime"
})

/**
 * Counter: lease-leak warnings logged (a lease held past `leakDetectionThreshold`).
 *
 * @example
 * ```ts
 * import { PoolMetrics } from "@berth/pool"
 *
 * console.log(PoolMetrics.leakWarnings)
 * ```
 *
 * @since 0.1.0
 */
export const leakWarnings = Metric.counter("db_pool_leak_warnings_total", {
  description: "Leases held longer than leakDetectionThreshold"
})

/**
 * Copies the pool's current statistics into the metrics above now (the pool also does so
 * every `metricsInterval` and when it closes).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Pool, PoolMetrics } from "@berth/pool"
 *
 * const program = Effect.gen(function*() {
 *   const pool = yield* Pool.make({ acquire: Effect.succeed({}), maxOpen: 4 })
 *   yield* PoolMetrics.refresh(pool)
 * })
 * ```
 *
 * @since 0.1.0
 */
export const refresh = <A, E>(self: Pool<A, E>): Effect.Effect<void> =>
  Effect.sync(() => internal.toImpl(self).flushMetrics())
