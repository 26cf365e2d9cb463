/**
 * Transactions as Scopes: `BEGIN` with isolation level, read only, deferrable and per-
 * transaction timeouts; `COMMIT` when the body succeeds, `ROLLBACK` when it fails, dies or is
 * interrupted (after the statement in flight was cancelled on the server); nested
 * transactions are savepoints; serializable transactions re-run from `BEGIN` under a
 * `Schedule` on serialization failure or deadlock — including when `COMMIT` raises it.
 *
 * Everything inside runs on the transaction's connection, because the session travels in
 * the Effect context: a statement cannot escape the transaction by accident, and one issued
 * after the transaction ended (a kept handle, a fiber that outlived it) fails with
 * `TxClosedError` without touching a connection that went back to the pool.
 *
 * @since 0.1.0
 */
import type * as PgConnection from "@berth/pg/PgConnection"
import * as PgError from "@berth/pg/PgError"
import type { Scope } from "effect"
import { Context, Effect, Exit, FiberRef, Layer, Metric, Predicate, Schedule } from "effect"
import { Db } from "./Db.js"
import { CommitOutcomeUnknownError, type DbError, type TxClosedError, TxRolledBackError } from "./DbError.js"
import * as Observe from "./internal/observe.js"
import * as Session from "./internal/session.js"
import * as Retry from "./Retry.js"
import * as TxOptions from "./TxOptions.js"

/**
 * Options of a transaction: how it is opened, and how it is retried.
 *
 * @since 0.1.0
 */
export interface Options extends TxOptions.TxOptions {
  /**
   * Re-run the whole transaction from `BEGIN` under this schedule when it fails with a
   * serialization failure (`40001`) or a deadlock (`40P01`); `true` means
   * `Retry.defaultSchedule`. Ignored by nested transactions (savepoints): only the outermost
   * transaction can be re-run.
   */
  readonly retry?: Schedule.Schedule<unknown, unknown> | true | undefined
  /** Widens what is retried (never `CommitOutcomeUnknownError`). */
  readonly retryWhile?: ((error: unknown) => boolean) | undefined
}

/**
 * What opening and finishing a transaction can fail with, besides the body's own errors.
 *
 * @since 0.1.0
 */
export type TxError =
  | DbError
  | TxOptions.TxOptionsError
  | TxRolledBackError
  | CommitOutcomeUnknownError

/**
 * A transaction opened with {@link begin}.
 *
 * @since 0.1.0
 */
export interface Handle {
  /** Commits now, with a typed error (instead of at scope close, where it could only die). */
  readonly commit: Effect.Effect<void, TxError>
  /** Rolls back now. */
  readonly rollback: Effect.Effect<void, TxError>
}

interface Opened {
  readonly session: Session.Session
  readonly end: (exit: Exit.Exit<unknown, unknown>) => Effect.Effect<void, TxError>
}

const lastCommand = (results: ReadonlyArray<PgConnection.QueryResult>): string | undefined =>
  results[results.length - 1]?.command

const rollbackQuietly = (conn: PgConnection.PgConnection): Effect.Effect<void> =>
  Effect.gen(function*() {
    yield* conn.awaitReady
    if (conn.isBroken || conn.transactionStatus === "idle") return
    yield* Effect.ignore(conn.simpleQuery("ROLLBACK"))
  })

const commit = (session: Session.Session): Effect.Effect<void, TxError> =>
  Effect.gen(function*() {
    const conn = session.conn
    yield* conn.awaitReady
    if (conn.transactionStatus === "failed") {
      // PostgreSQL would answer COMMIT with ROLLBACK; say so without a round trip's doubt.
      yield* Effect.ignore(conn.simpleQuery("ROLLBACK"))
      return yield* new TxRolledBackError({
        message: "the transaction had failed (a statement error was caught inside it); it was rolled back"
      })
    }
    const brokenBefore = conn.isBroken
    const result = yield* Effect.exit(conn.simpleQuery("COMMIT"))
    if (Exit.isSuccess(result)) {
      if (lastCommand(result.value) === "ROLLBACK") {
        return yield* new TxRolledBackError({
          message: "COMMIT was answered with ROLLBACK: the transaction had failed"
        })
      }
      return
    }
    const error = result.cause._tag === "Fail" ? result.cause.error : undefined
    if (error !== undefined && !brokenBefore && !PgError.isServerError(error)) {
      return yield* new CommitOutcomeUnknownError({
        message: "the connection was lost after COMMIT was sent: the transaction may or may not have committed",
        cause: error
      })
    }
    return yield* Effect.failCause(result.cause)
  })

const finishTransaction = (session: Session.Session) => (exit: Exit.Exit<unknown, unknown>) =>
  Effect.zipRight(
    Session.close(session),
    Exit.isSuccess(exit)
      ? Effect.tap(commit(session), () => Metric.increment(Observe.transactionsFor("commit")))
      : Effect.tap(rollbackQuietly(session.conn), () => Metric.increment(Observe.transactionsFor("rollback")))
  )

const finishSavepoint = (session: Session.Session, name: string) => (exit: Exit.Exit<unknown, unknown>) =>
  Effect.zipRight(
    Session.close(session),
    Exit.isSuccess(exit)
      ? Effect.asVoid(session.conn.simpleQuery(`RELEASE SAVEPOINT ${name}`))
      : Effect.gen(function*() {
        yield* session.conn.awaitReady
        yield* Effect.ignore(session.conn.simpleQuery(`ROLLBACK TO SAVEPOINT ${name}; RELEASE SAVEPOINT ${name}`))
      })
  )

/** Holds the session's lock alone for the scope: no sibling statement runs meanwhile. */
const exclusive = (session: Session.Session): Effect.Effect<void, TxClosedError, Scope.Scope> =>
  Effect.zipRight(
    Session.holdExclusive(session),
    Session.ensureOpen(session)
  )

const beginOn = (
  conn: PgConnection.PgConnection,
  statements: ReadonlyArray<string>
): Effect.Effect<Opened, TxError> => {
  const session = Session.make(conn, "transaction", 1)
  return conn.simpleQuery(statements.join("; ")).pipe(
    Effect.tapErrorCause(() => rollbackQuietly(conn)),
    Effect.as({ session, end: finishTransaction(session) })
  )
}

/**
 * Opens a transaction (or a savepoint, inside one) in the current scope. The caller must
 * call `end` with the body's exit; the scope only releases the connection and the locks.
 */
const open = (options: TxOptions.TxOptions): Effect.Effect<Opened, TxError, Db | Scope.Scope> =>
  Effect.gen(function*() {
    const parent = yield* Session.CurrentSession
    if (parent !== undefined && Session.inTransaction(parent)) {
      yield* exclusive(parent)
      const name = `berth_sp_${parent.depth}_${++parent.savepoints}`
      yield* parent.conn.simpleQuery(`SAVEPOINT ${name}`)
      const session = Session.make(parent.conn, "savepoint", parent.depth + 1)
      return { session, end: finishSavepoint(session, name) }
    }
    const statements = yield* TxOptions.statements(options)
    if (parent !== undefined) {
      yield* exclusive(parent)
      return yield* beginOn(parent.conn, statements)
    }
    const db = yield* Db
    const conn = yield* db.lease
    return yield* beginOn(conn, statements)
  })

const attempt = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options: TxOptions.TxOptions
): Effect.Effect<A, E | TxError, R | Db> =>
  Effect.scoped(Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const opened = yield* restore(open(options))
      const exit = yield* Effect.exit(restore(Effect.provideService(effect, Session.CurrentSession, opened.session)))
      yield* opened.end(exit)
      return yield* exit
    })
  ))

/**
 * A transaction with no session around it: the connection is leased for exactly the attempt by
 * `Db.withConnection` (lease, then the usual clean-or-destroy and release), without a `Scope`,
 * which was most of a transaction's fixed cost on Effect 3. Same order as {@link attempt}:
 * BEGIN, the body, COMMIT or ROLLBACK, then the connection's release.
 */
const attemptTopLevel = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options: TxOptions.TxOptions
): Effect.Effect<A, E | TxError, R | Db> =>
  Effect.flatMap(
    TxOptions.statements(options),
    (statements) =>
      Effect.flatMap(Db, (db) =>
        db.withConnection((conn) =>
          Effect.uninterruptibleMask((restore) =>
            Effect.flatMap(restore(beginOn(conn, statements)), (opened) =>
              Effect.flatMap(
                Effect.exit(restore(Effect.provideService(effect, Session.CurrentSession, opened.session))),
                (exit) =>
                  Effect.zipRight(opened.end(exit), exit)
              ))
          )
        ))
  )

const retrying = <A, E, R>(
  once: Effect.Effect<A, E | TxError, R | Db>,
  schedule: Schedule.Schedule<unknown, unknown>,
  retryWhile: ((error: unknown) => boolean) | undefined
): Effect.Effect<A, E | TxError, R | Db> => {
  const retryable = (error: unknown): boolean =>
    !Predicate.isTagged(error, "CommitOutcomeUnknownError") &&
    (Retry.isRetryable(error) || (retryWhile !== undefined && retryWhile(error)))
  // The schedule's driver is made on the first retryable failure: a transaction that
  // commits at once (the common case) pays nothing for being retryable.
  const loop = (
    driver: Schedule.ScheduleDriver<unknown, unknown> | undefined,
    attempt: number
  ): Effect.Effect<A, E | TxError, R | Db> =>
    Effect.catchAll(once, (error) => {
      if (!retryable(error)) return Effect.fail(error)
      const code = Retry.sqlState(error) ?? Observe.statusCode(error)
      return Effect.flatMap(driver === undefined ? Schedule.driver(schedule) : Effect.succeed(driver), (driver) =>
        driver.next(error).pipe(
          Effect.matchEffect({
            onFailure: () =>
              Effect.fail(error),
            onSuccess: () =>
              Effect.annotateCurrentSpan(`db.transaction.retry.${attempt}`, code).pipe(
                Effect.zipRight(Metric.increment(Observe.retriesFor(code))),
                Effect.zipRight(
                  Effect.logDebug("transaction retried").pipe(Effect.annotateLogs({ attempt, sqlstate: code }))
                ),
                Effect.zipRight(loop(driver, attempt + 1))
              )
          })
        ))
    })
  return loop(undefined, 1)
}

/**
 * Runs `effect` in a transaction: `COMMIT` when it succeeds, `ROLLBACK` when it fails, dies
 * or is interrupted. Inside a transaction, it is a savepoint. With `retry`, the outermost
 * transaction re-runs from `BEGIN` on `40001`/`40P01` (also raised by `COMMIT`).
 *
 * @example
 * ```ts
 * import { Db, Retry, Tx } from "@berth/sql"
 * import { Effect } from "effect"
 *
 * const transfer = (from: number, to: number, amount: number) =>
 *   Tx.transaction(
 *     Effect.gen(function*() {
 *       yield* Db.execute("update accounts set balance = balance - $1 where id = $2", [amount, from])
 *       yield* Db.execute("update accounts set balance = balance + $1 where id = $2", [amount, to])
 *     }),
 *     { isolation: "serializable", retry: Retry.exponential({ maxRetries: 8 }) }
 *   )
 * ```
 *
 * @since 0.1.0
 */
export const transaction = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options: Options = {}
): Effect.Effect<A, E | TxError, R | Db> =>
  Effect.flatMap(Session.CurrentSession, (parent) => {
    const nested = parent !== undefined && Session.inTransaction(parent)
    const once = parent === undefined ? attemptTopLevel(effect, options) : attempt(effect, options)
    const run = nested || options.retry === undefined
      ? once
      : retrying(once, options.retry === true ? Retry.defaultSchedule : options.retry, options.retryWhile)
    return Observe.withOptionalSpan(run, nested ? "db.savepoint" : "db.transaction", {
      kind: "client",
      captureStackTrace: false,
      attributes: {
        "db.system.name": "postgresql",
        "db.transaction.isolation": options.isolation ?? "default",
        "db.transaction.read_only": options.readOnly ?? false
      }
    })
  })

/**
 * Opens a transaction for the rest of the current scope (a savepoint inside a transaction).
 * Statements after it run inside. When the scope closes: rolled back if it closes with a
 * failure or interruption, committed if it closes successfully and the handle did not
 * already commit. Call `handle.commit` to get a `COMMIT` failure as a typed error: a
 * failing commit at scope close can only be logged and turned into a defect.
 *
 * @example
 * ```ts
 * import { Db, Tx } from "@berth/sql"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const tx = yield* Tx.begin({ isolation: "repeatable read" })
 *   yield* Db.execute("insert into audit(note) values ($1)", ["hello"])
 *   yield* tx.commit
 * }))
 * ```
 *
 * @since 0.1.0
 */
export const begin = (options: TxOptions.TxOptions = {}): Effect.Effect<Handle, TxError, Db | Scope.Scope> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const opened = yield* restore(open(options))
      let ended = false
      const end = (exit: Exit.Exit<unknown, unknown>) =>
        Effect.suspend(() => {
          if (ended) return Effect.void
          ended = true
          return opened.end(exit)
        })
      yield* Effect.addFinalizer((exit) =>
        end(exit).pipe(
          Effect.tapErrorCause((cause) => Effect.logError("transaction could not be finished at scope close", cause)),
          Effect.orDie
        )
      )
      yield* Effect.locallyScopedWith(FiberRef.currentContext, Context.add(Session.CurrentSession, opened.session))
      return {
        commit: end(Exit.void),
        rollback: end(Exit.fail("rollback"))
      } satisfies Handle
    })
  )

/**
 * A layer that runs everything it is provided to inside one transaction that is always
 * rolled back when the layer is released: test isolation without re-creating databases.
 * Transactions inside become savepoints.
 *
 * @example
 * ```ts
 * import { Db, Tx } from "@berth/sql"
 * import { Effect, Layer } from "effect"
 *
 * const TestDb = Tx.layerRollback().pipe(Layer.provideMerge(Db.layer({ url: "postgres://postgres@127.0.0.1:5432/postgres" })))
 * // inserts made by a test using TestDb are gone when the test ends
 * const test = Db.execute("insert into users(name) values ('temp')").pipe(Effect.provide(TestDb))
 * ```
 *
 * @since 0.1.0
 */
export const layerRollback = (options: TxOptions.TxOptions = {}): Layer.Layer<never, TxError, Db> =>
  Layer.scopedContext(
    Effect.uninterruptible(Effect.gen(function*() {
      const opened = yield* open(options)
      yield* Effect.addFinalizer(() => Effect.ignore(opened.end(Exit.fail("rolled back by layerRollback"))))
      return Context.make(Session.CurrentSession, opened.session) as Context.Context<never>
    }))
  )
