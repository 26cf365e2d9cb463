/**
 * Lanes: connections shared by single statements that run outside a session, so a saturated
 * pool pipelines statements instead of queueing callers.
 *
 * A statement takes a lane of its own (an ordinary lease) while the pool can lease one without
 * queueing; only when it cannot does it join the least loaded lane, where the connection core
 * pipelines it behind the others (each with its own Sync, so outcomes stay separate). A lane is
 * released through the usual hygiene when its last statement ends, so lanes hold connections
 * only while statements run, and the pool's stats and limits stay true.
 *
 * Fairness: when a caller outside the lanes (a transaction, a pinned Conn) is queued in the pool,
 * new statements stop joining busy lanes, so those lanes drain and the pool serves the queue in
 * order; the statements meanwhile wait together on one queued lane.
 *
 * Statements run with `shared: true`: one that leaves a transaction block open (a raw BEGIN)
 * fails and its connection is closed, rather than capturing the statements behind it.
 */
import type * as PgConnection from "@berth/pg/PgConnection"
import type * as PgError from "@berth/pg/PgError"
import * as Pool from "@berth/pool/Pool"
import type * as PoolError from "@berth/pool/PoolError"
import { Cause, Deferred, Effect, Exit, FiberId, Scope } from "effect"
import type * as Observe from "./observe.js"

type Conn = PgConnection.PgConnection
type LeaseError = PgError.PgError | PoolError.PoolTimeout | PoolError.PoolClosed
type Restore = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

type Done = Observe.Done

interface Lane {
  /** Set once the lease is granted. */
  conn: Conn | undefined
  /** The lease's outcome; `undefined` when its creator was interrupted (joiners start over). */
  readonly ready: Deferred.Deferred<Exit.Exit<Conn, LeaseError> | undefined>
  readonly scope: Scope.CloseableScope
  /** Statements on the lane, including ones waiting for the lease. */
  active: number
}

export interface Lanes {
  /** Runs `f` — exactly one statement — on a lane; `done` is told how it ended. */
  readonly run: <A, E, R>(
    f: (conn: Conn) => Effect.Effect<A, E, R>,
    done?: Done
  ) => Effect.Effect<A, E | LeaseError, R>
}

export const make = (
  pool: Pool.Pool<Conn, PgError.PgError>,
  clean: (conn: Conn) => Effect.Effect<void>
): Lanes => {
  const lanes: Array<Lane> = []
  /** Lanes waiting for their lease: they are among the pool's waiters, and not foreign. */
  let pendingLanes = 0

  const pick = (): Lane | undefined => {
    if (lanes.length === 0 || Pool.unsafeHasCapacity(pool)) return undefined
    const foreignWaiters = Pool.unsafeWaiting(pool) > pendingLanes
    let established: Lane | undefined
    let pending: Lane | undefined
    for (let i = 0; i < lanes.length; i++) {
      const lane = lanes[i]!
      if (lane.conn === undefined) {
        if (pending === undefined || lane.active < pending.active) pending = lane
      } else if (!foreignWaiters && !lane.conn.isBroken) {
        if (established === undefined || lane.active < established.active) established = lane
      }
    }
    return established ?? pending
  }

  const remove = (lane: Lane): void => {
    const i = lanes.indexOf(lane)
    if (i >= 0) lanes.splice(i, 1)
  }

  /** Leaves `lane` now; the returned effect (the last statement out) releases its connection. */
  const leaveNow = (lane: Lane): Effect.Effect<void> | undefined => {
    lane.active--
    const conn = lane.conn
    if (lane.active > 0 || conn === undefined) return undefined
    remove(lane)
    return Effect.zipRight(clean(conn), Scope.close(lane.scope, Exit.void))
  }

  const leave = (lane: Lane): Effect.Effect<void> => Effect.suspend(() => leaveNow(lane) ?? Effect.void)

  /**
   * Runs `f(conn)` on `lane` (already counted in `active`, inside an uninterruptible region) and
   * leaves the lane whatever the outcome; cheaper than `Effect.ensuring`, which would open a
   * second uninterruptible region on this hot path.
   */
  const runOn = <A, E, R>(
    lane: Lane,
    conn: Conn,
    f: (conn: Conn) => Effect.Effect<A, E, R>,
    restore: Restore,
    done: Done | undefined
  ): Effect.Effect<A, E, R> =>
    Effect.matchCauseEffect(restore(f(conn)), {
      onFailure: (cause) => {
        done?.(cause)
        const release = leaveNow(lane)
        if (release === undefined) return Effect.failCause(cause)
        // as Effect.ensuring would: a failing release does not hide the statement's failure
        return Effect.matchCauseEffect(release, {
          onFailure: (releaseCause) => Effect.failCause(Cause.sequential(cause, releaseCause)),
          onSuccess: () => Effect.failCause(cause)
        })
      },
      onSuccess: (value) => {
        done?.(undefined)
        const release = leaveNow(lane)
        return release === undefined ? Effect.succeed(value) : Effect.as(release, value)
      }
    })

  /** Opens a lane for `f` (inside `run`'s uninterruptible region). */
  const open = <A, E, R>(
    f: (conn: Conn) => Effect.Effect<A, E, R>,
    restore: Restore,
    done: Done | undefined
  ): Effect.Effect<A, E | LeaseError, R> =>
    Effect.flatMap(Scope.make(), (scope) => {
      const lane: Lane = { conn: undefined, ready: Deferred.unsafeMake(FiberId.none), scope, active: 1 }
      lanes.push(lane)
      pendingLanes++
      return Effect.flatMap(
        Effect.exit(restore(Scope.extend(Pool.get(pool), scope))),
        (exit): Effect.Effect<A, E | LeaseError, R> => {
          pendingLanes--
          if (Exit.isSuccess(exit)) {
            lane.conn = exit.value
            Deferred.unsafeDone(lane.ready, Exit.succeed(exit))
            return runOn(lane, exit.value, f, restore, done)
          }
          done?.(exit.cause)
          remove(lane)
          // interrupted while queued: the statements that joined it start over elsewhere
          Deferred.unsafeDone(lane.ready, Exit.succeed(Exit.isInterrupted(exit) ? undefined : exit))
          return Effect.zipRight(Scope.close(scope, Exit.void), Effect.failCause(exit.cause))
        }
      )
    })

  /** Joins `lane`, counted in `active` in the same step as `pick` chose it (see `run`). */
  const join = <A, E, R>(
    lane: Lane,
    f: (conn: Conn) => Effect.Effect<A, E, R>,
    restore: Restore,
    done: Done | undefined
  ): Effect.Effect<A, E | LeaseError, R> => {
    lane.active++
    const conn = lane.conn
    if (conn !== undefined) return runOn(lane, conn, f, restore, done)
    return Effect.flatMap(Effect.exit(restore(Deferred.await(lane.ready))), (awaited) => {
      if (Exit.isFailure(awaited)) {
        done?.(awaited.cause)
        return Effect.zipRight(leave(lane), Effect.failCause(awaited.cause))
      }
      const outcome = awaited.value
      if (outcome === undefined || Exit.isFailure(outcome)) {
        // the lane never got its lease: nothing to release
        lane.active--
        if (outcome === undefined) return restore(run(f, done))
        done?.(outcome.cause)
        return Effect.failCause(outcome.cause)
      }
      return runOn(lane, outcome.value, f, restore, done)
    })
  }

  // `pick` and joining happen in one synchronous step: were the fiber to yield in between, the
  // lane could be released (its last statement leaving) and its connection leased to someone
  // else before this statement counted itself in.
  const run = <A, E, R>(
    f: (conn: Conn) => Effect.Effect<A, E, R>,
    done?: Done
  ): Effect.Effect<A, E | LeaseError, R> =>
    Effect.uninterruptibleMask((restore) => {
      const lane = pick()
      return lane === undefined ? open(f, restore, done) : join(lane, f, restore, done)
    })

  return { run }
}

const sharedOptions: PgConnection.QueryOptions = { shared: true }
const sharedArrayOptions: PgConnection.QueryOptions = { shared: true, rowMode: "array" }

/** The statement's options with `shared` set, without allocating in the common cases. */
export const statementOptions = (
  options: PgConnection.QueryOptions | undefined,
  shared: boolean
): PgConnection.QueryOptions | undefined => {
  if (!shared) return options
  if (options === undefined || (options.rowMode !== "array" && options.shared === undefined)) return sharedOptions
  if (options.rowMode === "array" && options.shared === undefined) return sharedArrayOptions
  return { ...options, shared: true }
}
