/**
 * Validation of `Pool.Options` into the resolved numbers the state machine works with.
 * Every problem is collected (not just the first) and nothing is clamped: a pool that was
 * asked for something impossible refuses to start.
 */
import { Duration, Option } from "effect"
import type { Options } from "../Pool.js"
import { type ConfigIssue, PoolConfigError } from "../PoolError.js"

/** The options as plain numbers (milliseconds; `Infinity` = off). */
export interface Resolved {
  readonly name: string
  readonly maxOpen: number
  readonly maxIdle: number
  readonly minIdle: number
  readonly maxLifetime: number
  readonly maxLifetimeJitter: number
  readonly maxIdleTime: number
  readonly acquireTimeout: number
  readonly healthCheckInterval: number
  readonly validateAfterIdle: number
  readonly validateTimeout: number
  readonly releaseTimeout: number
  readonly leakDetectionThreshold: number
  readonly closeTimeout: number
  readonly metricsInterval: number
  /** How often the maintenance loop wakes: the shortest of the intervals it serves. */
  readonly maintenanceInterval: number
}

/** Defaults, in milliseconds. Documented in docs/pool.md. */
export const defaults = {
  healthCheckInterval: 60_000,
  validateAfterIdle: 1_000,
  validateTimeout: 5_000,
  releaseTimeout: 5_000,
  closeTimeout: 30_000,
  metricsInterval: 5_000
} as const

type Bound = "positive" | "nonNegative"

const describe = (input: unknown): string => {
  try {
    return typeof input === "bigint" ? `${input}n` : JSON.stringify(input) ?? String(input)
  } catch {
    return String(input)
  }
}

/**
 * `Duration.decode` turns NaN and negative numbers into zero; a pool must not, so the raw
 * input is inspected before decoding.
 */
const durationMillis = (
  issues: Array<ConfigIssue>,
  field: string,
  input: Duration.DurationInput | undefined,
  bound: Bound,
  allowInfinite: boolean
): number | undefined => {
  if (input === undefined) return undefined
  const bad = (why: string) => {
    issues.push({ field, message: `${why} (got ${describe(input)})` })
    return undefined
  }
  if (typeof input === "number" && (Number.isNaN(input) || input < 0)) {
    return bad("must be a non-negative number of milliseconds")
  }
  if (typeof input === "bigint" && input < BigInt(0)) return bad("must be a non-negative number of nanoseconds")
  if (Array.isArray(input) && input.some((part) => typeof part !== "number" || Number.isNaN(part) || part < 0)) {
    return bad("must be a non-negative [seconds, nanos] pair")
  }
  const decoded = Duration.decodeUnknown(input)
  if (Option.isNone(decoded)) return bad("is not a duration")
  const millis = Duration.toMillis(decoded.value)
  if (!Number.isFinite(millis) && !allowInfinite) return bad("must be finite")
  if (bound === "positive" && millis <= 0) return bad("must be greater than zero")
  return millis
}

const count = (
  issues: Array<ConfigIssue>,
  field: string,
  input: unknown,
  min: number
): number | undefined => {
  if (input === undefined) return undefined
  if (typeof input !== "number" || !Number.isInteger(input) || input < min) {
    issues.push({ field, message: `must be an integer >= ${min} (got ${describe(input)})` })
    return undefined
  }
  return input
}

/** Validates options, collecting every issue. */
export const resolve = <A, E, R>(options: Options<A, E, R>): Resolved | PoolConfigError => {
  const issues: Array<ConfigIssue> = []
  const name = options.name ?? "default"
  if (typeof name !== "string" || name.length === 0) {
    issues.push({ field: "name", message: `must be a non-empty string (got ${describe(name)})` })
  }
  if (options.maxOpen === undefined) issues.push({ field: "maxOpen", message: "is required" })
  const maxOpen = count(issues, "maxOpen", options.maxOpen, 1)
  const maxIdle = count(issues, "maxIdle", options.maxIdle, 0)
  const minIdle = count(issues, "minIdle", options.minIdle, 0)
  const effectiveMaxIdle = maxIdle ?? maxOpen
  if (maxIdle !== undefined && maxOpen !== undefined && maxIdle > maxOpen) {
    issues.push({ field: "maxIdle", message: `must be <= maxOpen (${maxOpen}) (got ${maxIdle})` })
  }
  if (minIdle !== undefined && effectiveMaxIdle !== undefined && minIdle > effectiveMaxIdle) {
    issues.push({
      field: "minIdle",
      message: `must be <= maxIdle (${effectiveMaxIdle}), or warm resources would be closed at once (got ${minIdle})`
    })
  }

  const maxLifetime = durationMillis(issues, "maxLifetime", options.maxLifetime, "positive", true)
  const jitter = durationMillis(issues, "maxLifetimeJitter", options.maxLifetimeJitter, "nonNegative", false)
  if (jitter !== undefined && options.maxLifetime === undefined) {
    issues.push({ field: "maxLifetimeJitter", message: "needs maxLifetime" })
  } else if (jitter !== undefined && maxLifetime !== undefined && jitter >= maxLifetime) {
    issues.push({ field: "maxLifetimeJitter", message: `must be < maxLifetime (${maxLifetime} ms) (got ${jitter} ms)` })
  }
  const maxIdleTime = durationMillis(issues, "maxIdleTime", options.maxIdleTime, "positive", true)
  const acquireTimeout = durationMillis(issues, "acquireTimeout", options.acquireTimeout, "positive", true)
  const healthCheckInterval = durationMillis(
    issues,
    "healthCheckInterval",
    options.healthCheckInterval,
    "positive",
    false
  )
  const validateAfterIdle = durationMillis(
    issues,
    "validateAfterIdle",
    options.validateAfterIdle,
    "nonNegative",
    false
  )
  if (options.validateAfterIdle !== undefined && options.validate === undefined) {
    issues.push({ field: "validateAfterIdle", message: "has no effect without validate" })
  }
  const validateTimeout = durationMillis(issues, "validateTimeout", options.validateTimeout, "positive", false)
  const releaseTimeout = durationMillis(issues, "releaseTimeout", options.releaseTimeout, "positive", false)
  const leak = durationMillis(issues, "leakDetectionThreshold", options.leakDetectionThreshold, "positive", true)
  const closeTimeout = durationMillis(issues, "closeTimeout", options.closeTimeout, "nonNegative", false)
  const metricsInterval = durationMillis(issues, "metricsInterval", options.metricsInterval, "positive", false)
  if (typeof options.acquire !== "object" || options.acquire === null) {
    issues.push({ field: "acquire", message: "must be an Effect" })
  }

  if (issues.length > 0 || maxOpen === undefined) return new PoolConfigError({ issues })

  const resolvedLifetime = maxLifetime ?? Infinity
  const resolvedIdleTime = maxIdleTime ?? Infinity
  const resolvedHealth = healthCheckInterval ?? defaults.healthCheckInterval
  return {
    name,
    maxOpen,
    maxIdle: maxIdle ?? maxOpen,
    minIdle: minIdle ?? 0,
    maxLifetime: resolvedLifetime,
    maxLifetimeJitter: jitter ?? 0,
    maxIdleTime: resolvedIdleTime,
    acquireTimeout: acquireTimeout ?? Infinity,
    healthCheckInterval: resolvedHealth,
    validateAfterIdle: validateAfterIdle ?? defaults.validateAfterIdle,
    validateTimeout: validateTimeout ?? defaults.validateTimeout,
    releaseTimeout: releaseTimeout ?? defaults.releaseTimeout,
    leakDetectionThreshold: leak ?? Infinity,
    closeTimeout: closeTimeout ?? defaults.closeTimeout,
    metricsInterval: metricsInterval ?? defaults.metricsInterval,
    maintenanceInterval: Math.min(
      resolvedHealth,
      resolvedIdleTime,
      resolvedLifetime - (jitter ?? 0)
    )
  }
}
