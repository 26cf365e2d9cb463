/**
 * `@berth/pool`: a generic Effect resource pool with `database/sql` semantics.
 *
 * @since 0.1.0
 */

/**
 * The pool: `make`, `get`, `use`, `invalidate`, `stats`, `close`, `layer`.
 *
 * @since 0.1.0
 */
export * as Pool from "./Pool.js"

/**
 * `PoolConfigError`, `PoolTimeout`, `PoolClosed`.
 *
 * @since 0.1.0
 */
export * as PoolError from "./PoolError.js"

/**
 * The pool's statistics as Effect metrics.
 *
 * @since 0.1.0
 */
export * as PoolMetrics from "./PoolMetrics.js"
