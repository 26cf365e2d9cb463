/**
 * A session is a connection that statements must use instead of leasing their own: a pinned
 * Conn, a transaction, or a savepoint inside one. It travels in the Effect context
 * (`CurrentSession`), so everything that runs inside — including fibers forked there — uses
 * it, and nothing can reach it once it is closed.
 *
 * Concurrency inside a session is a read/write lock (`SessionLock`): statements share it, a
 * nested transaction (savepoint) holds it alone, so a sibling fiber's statement can never
 * land inside someone else's savepoint. A nested session has its own lock for its body.
 */
import type * as PgConnection from "@berth/pg/PgConnection"
import { Cause, Context, Effect, type Scope } from "effect"
import { TxClosedError } from "../DbError.js"
import type * as Observe from "./observe.js"
import { SessionLock } from "./sessionLock.js"

/** @internal */
export type SessionKind = "conn" | "transaction" | "savepoint"

/** @internal */
export interface Session {
  readonly conn: PgConnection.PgConnection
  readonly kind: SessionKind
  readonly lock: SessionLock
  /** 0 for a pinned Conn, 1 for a transaction, 2.. for savepoints. */
  readonly depth: number
  open: boolean
  savepoints: number
  cursors: number
}

/** @internal */
export const make = (conn: PgConnection.PgConnection, kind: SessionKind, depth: number): Session => ({
  conn,
  kind,
  lock: new SessionLock(),
  depth,
  open: true,
  savepoints: 0,
  cursors: 0
})

/** @internal */
export const inTransaction = (session: Session): boolean => session.kind !== "conn"

/** The session statements of this fiber must use, if any. */
export class CurrentSession extends Context.Reference<CurrentSession>()("@berth/sql/CurrentSession", {
  defaultValue: (): Session | undefined => undefined
}) {}

const closedMessage = (session: Session): string =>
  session.kind === "conn"
    ? "the pinned connection has been released; its scope has ended"
    : "the transaction has ended; statements of a finished transaction (or of a fiber forked inside it) are refused"

const closed = (session: Session): TxClosedError => new TxClosedError({ message: closedMessage(session) })

/**
 * Runs `f` on the session's connection under a shared hold of its lock, refusing if the session
 * has ended (checked again once the hold is taken, because closing holds the lock alone first).
 * `done` is told how it ended, whichever way that was.
 */
export const use = <A, E, R>(
  session: Session,
  f: (conn: PgConnection.PgConnection) => Effect.Effect<A, E, R>,
  done?: Observe.Done
): Effect.Effect<A, E | TxClosedError, R> =>
  Effect.uninterruptibleMask((restore) => {
    if (!session.open) {
      const error = closed(session)
      done?.(Cause.fail(error))
      return Effect.fail(error)
    }
    // a free lock is taken without the asynchronous wait; only when a savepoint, a cursor or
    // the close holds it does the statement wait
    if (session.lock.tryShared()) return held(session, f, restore, done)
    return Effect.matchCauseEffect(restore(session.lock.shared), {
      onFailure: (cause) => {
        done?.(cause)
        return Effect.failCause(cause)
      },
      onSuccess: () => held(session, f, restore, done)
    })
  })

/** Runs `f` holding the shared lock (taken by the caller) and releases it however `f` ends. */
const held = <A, E, R>(
  session: Session,
  f: (conn: PgConnection.PgConnection) => Effect.Effect<A, E, R>,
  restore: <X, Y, Z>(effect: Effect.Effect<X, Y, Z>) => Effect.Effect<X, Y, Z>,
  done: Observe.Done | undefined
): Effect.Effect<A, E | TxClosedError, R> =>
  Effect.matchCauseEffect(
    restore(Effect.suspend((): Effect.Effect<A, E | TxClosedError, R> =>
      session.open ? f(session.conn) : Effect.fail(closed(session))
    )),
    {
      onFailure: (cause) => {
        session.lock.releaseShared()
        done?.(cause)
        return Effect.failCause(cause)
      },
      onSuccess: (value) => {
        session.lock.releaseShared()
        done?.(undefined)
        return Effect.succeed(value)
      }
    }
  )

/**
 * Holds the session's lock alone for the scope: no sibling statement runs meanwhile. The wait is
 * interruptible (a savepoint under a timeout gives up while a sibling's long statement runs);
 * once the lock is taken, its release is registered before anything can interrupt.
 */
export const holdExclusive = (session: Session): Effect.Effect<void, never, Scope.Scope> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.zipRight(
      restore(session.lock.exclusive),
      Effect.addFinalizer(() => Effect.sync(() => session.lock.releaseExclusive()))
    )
  )

/**
 * Ends a session: no statement starts after this, and the ones in flight have finished.
 * The lock is given back at once, so statements still waiting for it wake up, see the
 * session closed and fail.
 */
export const close = (session: Session): Effect.Effect<void> =>
  Effect.suspend(() => {
    session.open = false
    return Effect.map(session.lock.exclusive, () => session.lock.releaseExclusive())
  })

/** Fails if the session has already ended. */
export const ensureOpen = (session: Session): Effect.Effect<void, TxClosedError> =>
  session.open ? Effect.void : Effect.fail(new TxClosedError({ message: closedMessage(session) }))
