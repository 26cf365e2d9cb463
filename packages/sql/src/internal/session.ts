/**
 * A session is a connection that statements must use instead of leasing their own: a pinned
 * Conn, a transaction, or a savepoint inside one. It travels in the Effect context
 * (`CurrentSession`), so everything that runs inside — including fibers forked there — uses
 * it, and nothing can reach it once it is closed.
 *
 * Concurrency inside a session is a read/write lock: each statement takes one permit, a
 * nested transaction (savepoint) takes them all, so a sibling fiber's statement can never
 * land inside someone else's savepoint. A nested session has its own lock for its body.
 */
import type * as PgConnection from "@berth/pg/PgConnection"
import { Context, Effect } from "effect"
import { TxClosedError } from "../DbError.js"

/** Enough permits that statements never contend with each other, only with a savepoint. */
export const allPermits = 1 << 30

/** @internal */
export type SessionKind = "conn" | "transaction" | "savepoint"

/** @internal */
export interface Session {
  readonly conn: PgConnection.PgConnection
  readonly kind: SessionKind
  readonly lock: Effect.Semaphore
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
  lock: Effect.unsafeMakeSemaphore(allPermits),
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

/**
 * Runs `f` on the session's connection under one permit, refusing if the session has ended
 * (checked after the permit is held, because closing takes every permit first).
 */
export const use = <A, E, R>(
  session: Session,
  f: (conn: PgConnection.PgConnection) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | TxClosedError, R> => {
  if (!session.open) return Effect.fail(new TxClosedError({ message: closedMessage(session) }))
  const body = Effect.suspend((): Effect.Effect<A, E | TxClosedError, R> =>
    session.open ? f(session.conn) : Effect.fail(new TxClosedError({ message: closedMessage(session) }))
  )
  // a free permit is taken without the asynchronous wait `withPermits` always goes through;
  // only when a savepoint, a cursor or the close holds them all does the statement wait
  return Effect.flatMap(
    session.lock.withPermitsIfAvailable(1)(body),
    (done) => done._tag === "Some" ? Effect.succeed(done.value) : session.lock.withPermits(1)(body)
  )
}

/**
 * Ends a session: no statement starts after this, and the ones in flight have finished.
 * The permits are given back at once, so statements still waiting for one wake up, see the
 * session closed and fail.
 */
export const close = (session: Session): Effect.Effect<void> =>
  Effect.suspend(() => {
    session.open = false
    return Effect.zipRight(session.lock.take(allPermits), session.lock.release(allPermits))
  })

/** Fails if the session has already ended. */
export const ensureOpen = (session: Session): Effect.Effect<void, TxClosedError> =>
  session.open ? Effect.void : Effect.fail(new TxClosedError({ message: closedMessage(session) }))
