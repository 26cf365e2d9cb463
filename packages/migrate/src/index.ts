/**
 * @since 0.1.0
 */
export * as MigrateError from "./MigrateError.js"

/**
 * @since 0.1.0
 */
export * as Migration from "./Migration.js"

/**
 * @since 0.1.0
 */
export * as MigrationSource from "./MigrationSource.js"

/**
 * @since 0.1.0
 */
export * as Migrator from "./Migrator.js"

/**
 * @since 0.1.0
 */
export * as Scaffold from "./Scaffold.js"

/**
 * @since 0.1.0
 */
export * as Cli from "./Cli.js"
