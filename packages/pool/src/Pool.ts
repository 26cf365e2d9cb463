/**
 * A pool of any resource created by an `Effect<A, E, Scope>`, with the semantics of Go's
 * `database/sql`, pgxpool and HikariCP: a bounded number of open resources, idle ones
 * reused most-recently-returned first, FIFO waiters with direct hand-off, lifetimes with
 * jitter, idle timeouts, health checks, hooks, statistics and metrics, leak warnings and a
 * graceful close.
 *
 * The pool is itself a scoped resource (closing the scope that made it closes it), and a
 * lease is a `Scope`: `get` hands out a resource that goes back to the pool when the
 * caller's scope closes. There is no "release" to forget.
 *
 * @since 0.1.0
 */
import { type Context, type Duration, Effect, type Exit, Layer, Predicate, type Schedule, type Scope } from "effect"
import { dual } from "effect/Function"
import type { Pipeable } from "effect/Pipeable"
import type * as Types from "effect/Types"
import * as config from "./internal/config.js"
import * as internal from "./internal/pool.js"
import { type PoolClosed, PoolConfigError, type PoolTimeout } from "./PoolError.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: typeof internal.TypeId = internal.TypeId

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * A pool of resources of type `A` whose creation can fail with `E`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Pool } from "@berth/pool"
 *
 * const program = Effect.gen(function*() {
 *   const pool: Pool.Pool<{ readonly id: number }> = yield* Pool.make({
 *     acquire: Effect.succeed({ id: 1 }),
 *     maxOpen: 4
 *   })
 *   return yield* Pool.stats(pool)
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Pool<A, E = never> extends Pipeable {
  readonly [TypeId]: {
    readonly _A: Types.Invariant<A>
    readonly _E: Types.Covariant<E>
  }
}

/**
 * What the lease's release hook decides: put the resource back, or destroy it.
 *
 * @since 0.1.0
 * @category models
 */
export type ReleaseDecision = "reuse" | "destroy"

/**
 * The pool's settings. Only `acquire` and `maxOpen` are required. Every duration accepts an
 * Effect `Duration.DurationInput` (`"30 seconds"`, `Duration.minutes(5)`, a number of
 * milliseconds). Invalid values fail `make` with `PoolConfigError`; nothing is clamped.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { Pool } from "@berth/pool"
 *
 * const options: Pool.Options<{ readonly id: number }, never, never> = {
 *   acquire: Effect.succeed({ id: 1 }),
 *   maxOpen: 10,
 *   maxLifetime: "30 minutes",
 *   maxLifetimeJitter: "2 minutes",
 *   maxIdleTime: "5 minutes",
 *   acquireTimeout: "10 seconds"
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<A, E, R> {
  /**
   * Creates one resource. It runs in a `Scope` owned by the pool: closing that scope (when
   * the pool destroys the resource) runs the resource's finalizers.
   */
  readonly acquire: Effect.Effect<A, E, R | Scope.Scope>
  /** Maximum number of open resources (in use + idle + being created/closed). Go's `MaxOpenConns`. */
  readonly maxOpen: number
  /** Maximum number of idle resources kept (default: `maxOpen`, must be `<= maxOpen`). Go's `MaxIdleConns`. */
  readonly maxIdle?: number | undefined
  /** Idle resources kept warm in the background (default 0, must be `<= maxIdle`). Hikari's `minimumIdle`. */
  readonly minIdle?: number | undefined
  /** A resource older than this is destroyed on release and never handed out (default: no limit). */
  readonly maxLifetime?: Duration.DurationInput | undefined
  /**
   * A random duration in `[0, jitter)` subtracted from each resource's lifetime, so resources
   * created together do not expire together (default 0, must be `< maxLifetime`).
   */
  readonly maxLifetimeJitter?: Duration.DurationInput | undefined
  /** An idle resource unused for this long is destroyed (default: no limit). Go's `ConnMaxIdleTime`. */
  readonly maxIdleTime?: Duration.DurationInput | undefined
  /** How long `get` may wait before failing with `PoolTimeout` (default: no limit). */
  readonly acquireTimeout?: Duration.DurationInput | undefined
  /**
   * How often idle resources are validated (with `validate`) and the pool is tidied: expired
   * idle resources closed, `minIdle` refilled (default 1 minute).
   */
  readonly healthCheckInterval?: Duration.DurationInput | undefined
  /**
   * A resource idle longer than this is validated before it is handed out (default 1 second,
   * as pgxpool; 0 validates on every hand-out). Requires `validate`.
   */
  readonly validateAfterIdle?: Duration.DurationInput | undefined
  /** Bound on one `validate` call; a validation that takes longer counts as failed (default 5 seconds). */
  readonly validateTimeout?: Duration.DurationInput | undefined
  /**
   * Checks a resource (e.g. a `SELECT 1`): in the background health check and on hand-out
   * after `validateAfterIdle`. `false`, a failure or a timeout destroys the resource.
   */
  readonly validate?: ((resource: A) => Effect.Effect<boolean>) | undefined
  /**
   * A cheap synchronous check on every hand-out and release (like pgxpool checking
   * `IsClosed`): `false` destroys the resource (counted as broken) and another is taken.
   */
  readonly isUsable?: ((resource: A) => boolean) | undefined
  /** Runs once after `acquire`; its failure destroys the new resource and counts as a failed creation. */
  readonly onCreate?: ((resource: A) => Effect.Effect<void, E, R>) | undefined
  /** Runs on every hand-out; its failure destroys the resource and fails that `get` with the error. */
  readonly onAcquire?: ((resource: A) => Effect.Effect<void, E, R>) | undefined
  /**
   * Runs when a lease ends, with how the lease's scope closed, and decides whether the
   * resource is reused. It is bounded by `releaseTimeout`: a hook that hangs, fails or dies
   * means "destroy".
   */
  readonly onRelease?: ((resource: A, exit: Exit.Exit<unknown, unknown>) => Effect.Effect<ReleaseDecision>) | undefined
  /** Bound on `onRelease` (default 5 seconds). */
  readonly releaseTimeout?: Duration.DurationInput | undefined
  /**
   * A lease held longer than this logs a warning with the stack of the `Pool.get` call that
   * took it (default: off). Hikari's `leakDetectionThreshold`.
   */
  readonly leakDetectionThreshold?: Duration.DurationInput | undefined
  /**
   * How long `close` lets in-flight leases finish before destroying their resources
   * (default 30 seconds; 0 destroys at once).
   */
  readonly closeTimeout?: Duration.DurationInput | undefined
  /** Retries a failed creation (`acquire` + `onCreate`) before the error reaches a caller (default: no retry). */
  readonly createRetry?: Schedule.Schedule<unknown, E> | undefined
  /** The pool's name: the `pool` label of its metrics and log annotations (default `"default"`). */
  readonly name?: string | undefined
  /** Whether to publish the Effect metrics of `PoolMetrics` (default true). */
  readonly metrics?: boolean | undefined
  /** How often the metrics are refreshed from the pool's counters (default 5 seconds). */
  readonly metricsInterval?: Duration.DurationInput | undefined
}

/**
 * A snapshot of the pool. The first group mirrors Go's `sql.DBStats`, the second pgxpool's
 * `Stat`, the `closed*` counters say why resources were destroyed (each destroyed resource
 * is counted exactly once). `open = inUse + idle`.
 *
 * @example
 * ```ts
 * import { Duration, Effect } from "effect"
 * import { Pool } from "@berth/pool"
 *
 * declare const pool: Pool.Pool<{ readonly id: number }>
 *
 * const averageWait = Effect.map(Pool.stats(pool), (s) =>
 *   s.waitCount === 0 ? 0 : Duration.toMillis(s.waitDuration) / s.waitCount)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  /** The pool's name. */
  readonly name: string
  /** Configured maximum of open resources. */
  readonly maxOpen: number
  /** Open resources: `inUse + idle`. */
  readonly open: number
  /** Resources leased out (including ones the health check is validating). */
  readonly inUse: number
  /** Idle resources. */
  readonly idle: number
  /** Callers queued for a resource right now. */
  readonly waiting: number
  /** Resources being created right now. */
  readonly constructing: number
  /** Resources whose finalizers are running right now (they still hold their slot). */
  readonly closing: number
  /** Whether `close` has started. */
  readonly closed: boolean
  /** Total callers that had to queue (Go's `WaitCount`). */
  readonly waitCount: number
  /** Total time callers spent queued (Go's `WaitDuration`). */
  readonly waitDuration: Duration.Duration
  /** Successful `get`s. */
  readonly acquireCount: number
  /** Total time spent in successful `get`s, queueing and validation included. */
  readonly acquireDuration: Duration.Duration
  /** `get`s interrupted before they obtained a resource. */
  readonly canceledAcquireCount: number
  /** `get`s that failed with `PoolTimeout`. */
  readonly timeoutCount: number
  /** Resources created. */
  readonly newCount: number
  /** Creations that failed (after `createRetry`). */
  readonly createErrorCount: number
  /** Leak warnings logged. */
  readonly leakWarnings: number
  /** Closed because `maxIdle` idle resources were already kept (Go's `MaxIdleClosed`). */
  readonly closedMaxIdle: number
  /** Closed after sitting idle for `maxIdleTime` (Go's `MaxIdleTimeClosed`). */
  readonly closedMaxIdleTime: number
  /** Closed after `maxLifetime` (Go's `MaxLifetimeClosed`). */
  readonly closedMaxLifetime: number
  /** Closed because `validate` said no, failed or timed out. */
  readonly closedHealthCheck: number
  /** Closed as broken: `invalidate`, `isUsable` false, `onRelease` said destroy, or a hook failed. */
  readonly closedBroken: number
  /** Closed by `close`. */
  readonly closedPoolClose: number
}

/**
 * Whether a value is a `Pool`.
 *
 * @example
 * ```ts
 * import { Pool } from "@berth/pool"
 *
 * Pool.isPool({}) // false
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isPool = (u: unknown): u is Pool<unknown, unknown> => Predicate.hasProperty(u, TypeId)

/**
 * Creates a pool in the current `Scope`; closing that scope closes the pool gracefully (see
 * {@link close}). Fails with `PoolConfigError`, listing every invalid option, before
 * anything is created. `minIdle` resources are created in the background.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Pool } from "@berth/pool"
 *
 * class Connection {
 *   constructor(readonly id: number) {}
 * }
 *
 * let next = 0
 * const connect = Effect.acquireRelease(
 *   Effect.sync(() => new Connection(next++)),
 *   (conn) => Effect.log(`closing ${conn.id}`)
 * )
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const pool = yield* Pool.make({ acquire: connect, maxOpen: 10, maxLifetime: "30 minutes" })
 *   const conn = yield* Effect.scoped(Pool.get(pool))
 *   return conn.id
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A, E, R>(
  options: Options<A, E, R>
): Effect.Effect<Pool<A, E>, PoolConfigError, Scope.Scope | R> =>
  Effect.suspend(() => {
    const resolved = config.resolve(options)
    if (resolved instanceof PoolConfigError) return Effect.fail(resolved)
    return Effect.acquireRelease(
      Effect.map(
        Effect.zip(Effect.runtime<R>(), Effect.clockWith(Effect.succeed)),
        ([runtime, clock]) => {
          const pool = new internal.PoolImpl<A, E, R>(resolved, options, runtime, clock)
          pool.start()
          return pool
        }
      ),
      (pool) => pool.close()
    )
  })

/** The name of the caller's current span, for leak warnings. */
const leaseSpan: Effect.Effect<string | undefined> = Effect.map(
  Effect.option(Effect.currentSpan),
  (span) => span._tag === "Some" ? span.value.name : undefined
)

/**
 * Leases a resource for the current `Scope`: it goes back to the pool (or is destroyed, per
 * `onRelease`, `isUsable`, `maxLifetime`, `invalidate`) when the scope closes. Takes the
 * most recently returned idle resource, creates one if below `maxOpen`, or queues the
 * caller (FIFO). Interrupting a queued caller leaves nothing behind.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Pool } from "@berth/pool"
 *
 * declare const pool: Pool.Pool<{ query: (sql: string) => Effect.Effect<number> }, Error>
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const conn = yield* Pool.get(pool)
 *   return yield* conn.query("SELECT 1")
 * }))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const get = <A, E>(self: Pool<A, E>): Effect.Effect<A, E | PoolTimeout | PoolClosed, Scope.Scope> => {
  const pool = internal.toImpl(self)
  // the stack of this call is where a leaked lease was taken
  if (pool.config.leakDetectionThreshold === Infinity) return pool.getEffect
  const stack = new Error("Pool.get")
  return Effect.flatMap(leaseSpan, (span) => pool.makeGet({ stack, span }))
}

/**
 * Leases a resource for the duration of `f`: the same lease as {@link get}, without a
 * `Scope` (the resource goes back when `f` ends, however it ends). The cheapest way to
 * borrow a resource.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Pool } from "@berth/pool"
 *
 * declare const pool: Pool.Pool<{ readonly id: number }>
 *
 * const id = Pool.use(pool, (resource) => Effect.succeed(resource.id))
 * // or: pool.pipe(Pool.use((resource) => Effect.succeed(resource.id)))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const use: {
  <A, B, E2, R2>(
    f: (resource: A) => Effect.Effect<B, E2, R2>
  ): <E>(self: Pool<A, E>) => Effect.Effect<B, E | E2 | PoolTimeout | PoolClosed, R2>
  <A, E, B, E2, R2>(
    self: Pool<A, E>,
    f: (resource: A) => Effect.Effect<B, E2, R2>
  ): Effect.Effect<B, E | E2 | PoolTimeout | PoolClosed, R2>
} = dual(
  2,
  <A, E, B, E2, R2>(
    self: Pool<A, E>,
    f: (resource: A) => Effect.Effect<B, E2, R2>
  ): Effect.Effect<B, E | E2 | PoolTimeout | PoolClosed, R2> => {
    const pool = internal.toImpl(self)
    if (pool.config.leakDetectionThreshold !== Infinity) {
      const stack = new Error("Pool.use")
      return Effect.flatMap(
        leaseSpan,
        (span) =>
          pool.use(f as (resource: unknown) => Effect.Effect<B, E2, R2>, { stack, span }) as Effect.Effect<
            B,
            E | E2 | PoolTimeout | PoolClosed,
            R2
          >
      )
    }
    return internal.toImpl(self).use(
      f as (resource: unknown) => Effect.Effect<B, E2, R2>,
      undefined
    ) as Effect.Effect<B, E | E2 | PoolTimeout | PoolClosed, R2>
  }
)

/**
 * Marks a resource broken: it is destroyed (counted in `closedBroken`) instead of reused
 * when its lease ends, or at once if it is idle. Unknown resources are ignored.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Pool } from "@berth/pool"
 *
 * declare const pool: Pool.Pool<{ readonly id: number }>
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const conn = yield* Pool.get(pool)
 *   // ... the connection misbehaved:
 *   yield* Pool.invalidate(pool, conn)
 * }))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const invalidate = <A, E>(self: Pool<A, E>, resource: A): Effect.Effect<void> =>
  Effect.sync(() => internal.toImpl(self).invalidate(resource))

/**
 * A snapshot of the pool's statistics.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Pool } from "@berth/pool"
 *
 * declare const pool: Pool.Pool<{ readonly id: number }>
 *
 * const program = Effect.gen(function*() {
 *   const { inUse, maxOpen, waitCount } = yield* Pool.stats(pool)
 *   if (inUse === maxOpen && waitCount > 0) yield* Effect.logWarning("pool exhausted")
 * })
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const stats = <A, E>(self: Pool<A, E>): Effect.Effect<Stats> => Effect.sync(() => internal.toImpl(self).stats())

/**
 * Whether a `get` right now would not queue: an idle resource is there, or there is room to
 * create one, and nobody is waiting. A synchronous read for schedulers that spread work (for
 * instance a client that shares busy connections only when the pool is saturated).
 *
 * @example
 * ```ts
 * import { Pool } from "@berth/pool"
 *
 * declare const pool: Pool.Pool<{ readonly id: number }>
 *
 * const share = !Pool.unsafeHasCapacity(pool)
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const unsafeHasCapacity = <A, E>(self: Pool<A, E>): boolean => internal.toImpl(self).hasCapacity()

/**
 * How many callers are queued for a resource right now (`stats().waiting`, without the
 * snapshot).
 *
 * @example
 * ```ts
 * import { Pool } from "@berth/pool"
 *
 * declare const pool: Pool.Pool<{ readonly id: number }>
 *
 * const contended = Pool.unsafeWaiting(pool) > 0
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const unsafeWaiting = <A, E>(self: Pool<A, E>): number => internal.toImpl(self).waiters.length

/**
 * Closes the pool gracefully: new and queued `get`s fail with `PoolClosed`, idle resources
 * are destroyed, in-flight leases may finish for up to `closeTimeout`, then their resources
 * are destroyed too. Returns once every resource's finalizer has run (each exactly once).
 * Idempotent; the scope that made the pool also closes it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Pool } from "@berth/pool"
 *
 * declare const pool: Pool.Pool<{ readonly id: number }>
 *
 * const shutdown = Pool.close(pool)
 * ```
 *
 * @since 0.1.0
 * @category destructors
 */
export const close = <A, E>(self: Pool<A, E>): Effect.Effect<void> => internal.toImpl(self).close()

/**
 * A `Layer` providing a pool under your own tag.
 *
 * @example
 * ```ts
 * import { Context, Effect } from "effect"
 * import { Pool } from "@berth/pool"
 *
 * interface Connection {
 *   readonly id: number
 * }
 *
 * class Connections extends Context.Tag("app/Connections")<Connections, Pool.Pool<Connection>>() {}
 *
 * const ConnectionsLive = Pool.layer(Connections, { acquire: Effect.succeed({ id: 1 }), maxOpen: 8 })
 *
 * const program = Effect.gen(function*() {
 *   const pool = yield* Connections
 *   return yield* Pool.use(pool, (conn) => Effect.succeed(conn.id))
 * }).pipe(Effect.provide(ConnectionsLive))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <I, A, E, R>(
  tag: Context.Tag<I, Pool<A, E>>,
  options: Options<A, E, R>
): Layer.Layer<I, PoolConfigError, Exclude<R, Scope.Scope>> => Layer.scoped(tag, make(options))
