/**
 * @since 0.1.0
 */
export * as TestDatabase from "./TestDatabase.js"

/**
 * @since 0.1.0
 */
export * as TestServer from "./TestServer.js"

/**
 * @since 0.1.0
 */
export * as TestLayer from "./TestLayer.js"
