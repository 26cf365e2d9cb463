/**
 * @since 0.1.0
 */
export * as Conn from "./Conn.js"

/**
 * @since 0.1.0
 */
export * as Db from "./Db.js"

/**
 * @since 0.1.0
 */
export * as DbError from "./DbError.js"

/**
 * @since 0.1.0
 */
export * as EffectSql from "./EffectSql.js"

/**
 * @since 0.1.0
 */
export * as Metrics from "./Metrics.js"

/**
 * @since 0.1.0
 */
export * as Retry from "./Retry.js"

/**
 * @since 0.1.0
 */
export * as Rows from "./Rows.js"

/**
 * @since 0.1.0
 */
export * as SqlCompiler from "./SqlCompiler.js"

/**
 * @since 0.1.0
 */
export * as Tx from "./Tx.js"

/**
 * @since 0.1.0
 */
export * as TxOptions from "./TxOptions.js"
