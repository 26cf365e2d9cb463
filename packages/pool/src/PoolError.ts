/**
 * The typed errors of `@berth/pool`.
 *
 * @since 0.1.0
 */
import { Data, Duration } from "effect"
import type { Stats } from "./Pool.js"

/**
 * One invalid field of a pool configuration.
 *
 * @since 0.1.0
 */
export interface ConfigIssue {
  /** The option's name, e.g. `"maxIdle"`. */
  readonly field: string
  /** What is wrong with it, in one sentence. */
  readonly message: string
}

/**
 * The options given to `Pool.make` are invalid. Every invalid field is listed: the pool never
 * clamps a setting silently, so a typo such as `maxIdle > maxOpen` is reported instead of
 * quietly becoming something else.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Pool, PoolError } from "@berth/pool"
 *
 * const program = Pool.make({ acquire: Effect.succeed({}), maxOpen: 2, maxIdle: 3 }).pipe(
 *   Effect.catchTag("PoolConfigError", (error: PoolError.PoolConfigError) =>
 *     Effect.logError(error.issues.map((issue) => issue.field)))
 * )
 * ```
 *
 * @since 0.1.0
 */
export class PoolConfigError extends Data.TaggedError("PoolConfigError")<{
  readonly issues: ReadonlyArray<ConfigIssue>
}> {
  override get message(): string {
    return `invalid pool configuration: ${this.issues.map((issue) => `${issue.field}: ${issue.message}`).join("; ")}`
  }
}

/**
 * No resource became available within `acquireTimeout`. Carries how long the caller waited
 * and a snapshot of the pool's statistics at that moment, so the log line that reports the
 * timeout also says whether the pool was exhausted (`inUse == maxOpen`) or failing to connect.
 *
 * @example
 * ```ts
 * import { Duration, Effect } from "effect"
 * import { Pool } from "@berth/pool"
 *
 * declare const pool: Pool.Pool<{ readonly id: number }>
 *
 * const program = Effect.scoped(Pool.get(pool)).pipe(
 *   Effect.catchTag("PoolTimeout", (error) =>
 *     Effect.logWarning(
 *       `waited ${Duration.format(error.waited)} with ${error.stats.inUse}/${error.stats.maxOpen} in use`
 *     ))
 * )
 * ```
 *
 * @since 0.1.0
 */
export class PoolTimeout extends Data.TaggedError("PoolTimeout")<{
  /** The pool's `name`. */
  readonly pool: string
  /** How long the caller waited before giving up. */
  readonly waited: Duration.Duration
  /** The pool's statistics when the wait ended. */
  readonly stats: Stats
}> {
  override get message(): string {
    const s = this.stats
    return `pool "${this.pool}": no resource within ${Duration.format(this.waited)} ` +
      `(open ${s.open}/${s.maxOpen}, in use ${s.inUse}, idle ${s.idle}, waiting ${s.waiting}, ` +
      `constructing ${s.constructing})`
  }
}

/**
 * The pool is closed (or closing): it hands out nothing any more.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Pool } from "@berth/pool"
 *
 * declare const pool: Pool.Pool<{ readonly id: number }>
 *
 * const program = Effect.scoped(Pool.get(pool)).pipe(
 *   Effect.catchTag("PoolClosed", () => Effect.succeed(undefined))
 * )
 * ```
 *
 * @since 0.1.0
 */
export class PoolClosed extends Data.TaggedError("PoolClosed")<{
  /** The pool's `name`. */
  readonly pool: string
}> {
  override get message(): string {
    return `pool "${this.pool}" is closed`
  }
}
