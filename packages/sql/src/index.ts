/**
 * @since 0.1.0
 */
export * as Retry from "./Retry.js"

/**
 * @since 0.1.0
 */
export * as SqlCompiler from "./SqlCompiler.js"

/**
 * @since 0.1.0
 */
export * as TxOptions from "./TxOptions.js"
