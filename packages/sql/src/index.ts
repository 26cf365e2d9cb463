/**
 * @since 0.1.0
 */
export * as SqlCompiler from "./SqlCompiler.js"
