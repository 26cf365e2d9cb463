/**
 * Benchmarks of Berth against its peers, the JavaScript limit and the server limit.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as Cli from "./Cli.js"

/**
 * @since 0.1.0
 */
export * as Contender from "./Contender.js"

/**
 * @since 0.1.0
 */
export * as Peers from "./Peers.js"

/**
 * @since 0.1.0
 */
export * as Report from "./Report.js"

/**
 * @since 0.1.0
 */
export * as Runner from "./Runner.js"

/**
 * @since 0.1.0
 */
export * as Workload from "./Workload.js"
