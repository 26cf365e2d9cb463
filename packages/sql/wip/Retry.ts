/**
 * What a transaction retries, and ready-made schedules for it.
 *
 * A transaction that failed with a serialization failure (`40001`) or a deadlock (`40P01`)
 * did nothing: PostgreSQL rolled it back, and running the whole body again from `BEGIN` is
 * the documented remedy. A single statement inside a transaction is never retried on its
 * own, because the snapshot that made it fail is still the transaction's.
 *
 * @since 0.1.0
 */
import { Duration, Predicate, Schedule } from "effect"

/**
 * SQLSTATE codes after which re-running the whole transaction is safe and useful.
 *
 * @since 0.1.0
 */
export const retryableSqlStates: ReadonlySet<string> = new Set(["40001", "40P01"])

const codeOf = (value: unknown): string | undefined =>
  Predicate.hasProperty(value, "code") && typeof value.code === "string" && /^[0-9A-Z]{5}$/.test(value.code)
    ? value.code
    : undefined

/**
 * The SQLSTATE carried by an error, looking through `cause` chains (as in `@effect/sql`'s
 * `SqlError`, which wraps the driver's error).
 *
 * @example
 * ```ts
 * import * as Retry from "@berth/sql/Retry"
 *
 * Retry.sqlState({ cause: { code: "40001" } }) // "40001"
 * ```
 *
 * @since 0.1.0
 */
export const sqlState = (error: unknown): string | undefined => {
  let current: unknown = error
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth++) {
    const code = codeOf(current)
    if (code !== undefined) return code
    current = Predicate.hasProperty(current, "cause") ? current.cause : undefined
  }
  return undefined
}

/**
 * Whether an error means "the transaction did nothing; run it again": a serialization
 * failure or a deadlock.
 *
 * @example
 * ```ts
 * import * as Retry from "@berth/sql/Retry"
 *
 * Retry.isRetryable({ code: "40P01" }) // true
 * Retry.isRetryable({ code: "23505" }) // false: a unique violation will fail again
 * ```
 *
 * @since 0.1.0
 */
export const isRetryable = (error: unknown): boolean => {
  const code = sqlState(error)
  return code !== undefined && retryableSqlStates.has(code)
}

/**
 * Options of {@link exponential}.
 *
 * @since 0.1.0
 */
export interface ExponentialOptions {
  /** First delay (default: 10 millis). */
  readonly base?: Duration.DurationInput | undefined
  /** Largest delay (default: 1 second). */
  readonly cap?: Duration.DurationInput | undefined
  /** Retries after the first attempt (default: 10). */
  readonly maxRetries?: number | undefined
}

/**
 * Jittered exponential backoff with a cap and a bounded number of retries: the schedule
 * for contended serializable transactions. Jitter keeps the transactions that collided
 * from colliding again in lockstep.
 *
 * @example
 * ```ts
 * import * as Retry from "@berth/sql/Retry"
 *
 * const schedule = Retry.exponential({ base: "5 millis", cap: "200 millis", maxRetries: 8 })
 * ```
 *
 * @since 0.1.0
 */
export const exponential = (options: ExponentialOptions = {}): Schedule.Schedule<unknown> => {
  const cap = Duration.decode(options.cap ?? "1 second")
  return Schedule.exponential(options.base ?? "10 millis").pipe(
    Schedule.modifyDelay((delay) => Duration.min(delay, cap)),
    Schedule.jittered,
    Schedule.intersect(Schedule.recurs(options.maxRetries ?? 10))
  )
}

/**
 * The default retry schedule of a serializable transaction: {@link exponential} with its
 * defaults (10 ms doubling up to 1 s, jittered, at most 10 retries).
 *
 * @since 0.1.0
 */
export const defaultSchedule: Schedule.Schedule<unknown> = exponential()
