/**
 * `@berth/pg`: the PostgreSQL v3 wire protocol, one connection as an Effect resource.
 *
 * @since 0.1.0
 */

/**
 * Connection settings (libpq URLs, key=value strings, PG* variables).
 *
 * @since 0.1.0
 */
export * as PgConfig from "./PgConfig.js"

/**
 * One connection: connect, query, cancel, close.
 *
 * @since 0.1.0
 */
export * as PgConnection from "./PgConnection.js"

/**
 * Typed errors.
 *
 * @since 0.1.0
 */
export * as PgError from "./PgError.js"

/**
 * Type codecs: text/binary decoders, parameter encoding, user-registered codecs.
 *
 * @since 0.1.0
 */
export * as PgTypes from "./PgTypes.js"

/**
 * COPY with rows: text, CSV and binary encoders, a Sink of rows, COPY TO read back as rows.
 *
 * @since 0.1.0
 */
export * as PgCopy from "./PgCopy.js"
