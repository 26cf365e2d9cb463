/**
 * The errors of the data layer. Errors of a single connection (`PgServerError` with its
 * SQLSTATE, `PgConnectionError`, ...) come from `@berth/pg` unchanged; the pool's
 * (`PoolTimeout`, `PoolClosed`) from `@berth/pool`. This module adds what only the data
 * layer can know: the database was unreachable at startup, a transaction was used after it
 * ended, a `COMMIT` turned into a rollback or lost its connection, a result had the wrong
 * number of rows.
 *
 * @since 0.1.0
 */
import type * as PgError from "@berth/pg/PgError"
import type * as PoolError from "@berth/pool/PoolError"
import { Data } from "effect"

/**
 * Building a `Db` layer pinged the database and could not reach it. Carries the error of the
 * last attempt; the message names host and database, never the password.
 *
 * @example
 * ```ts
 * import { Db, DbError } from "@berth/sql"
 * import { Effect, Layer } from "effect"
 *
 * const program = Layer.launch(Db.layer({ url: "postgres://nobody@127.0.0.1:1/none" })).pipe(
 *   Effect.catchTag("DbUnavailableError", (e) => Effect.logError(e.message))
 * )
 * ```
 *
 * @since 0.1.0
 */
export class DbUnavailableError extends Data.TaggedError("DbUnavailableError")<{
  readonly message: string
  readonly cause: unknown
}> {}

/**
 * A statement ran through a transaction (or pinned connection) that has already ended: a
 * handle kept after its scope closed, or a fiber forked inside the transaction that outlived
 * it. The statement was not sent; the connection may already serve someone else.
 *
 * @example
 * ```ts
 * import { DbError } from "@berth/sql"
 *
 * const error = new DbError.TxClosedError({ message: "the transaction has ended" })
 * ```
 *
 * @since 0.1.0
 */
export class TxClosedError extends Data.TaggedError("TxClosedError")<{
  readonly message: string
}> {}

/**
 * `COMMIT` was answered with `ROLLBACK`: the transaction had already failed (a statement
 * error that the body caught and ignored), so nothing was committed.
 *
 * @example
 * ```ts
 * import { DbError } from "@berth/sql"
 *
 * const error = new DbError.TxRolledBackError({ message: "COMMIT rolled back a failed transaction" })
 * ```
 *
 * @since 0.1.0
 */
export class TxRolledBackError extends Data.TaggedError("TxRolledBackError")<{
  readonly message: string
}> {}

/**
 * The connection was lost after `COMMIT` was sent and before its answer arrived: the
 * transaction may or may not have been committed. Never retried automatically — retrying a
 * transfer that did commit would apply it twice. Make the operation idempotent or check.
 *
 * @example
 * ```ts
 * import { DbError } from "@berth/sql"
 *
 * const error = new DbError.CommitOutcomeUnknownError({ message: "connection lost during COMMIT", cause: undefined })
 * ```
 *
 * @since 0.1.0
 */
export class CommitOutcomeUnknownError extends Data.TaggedError("CommitOutcomeUnknownError")<{
  readonly message: string
  readonly cause: unknown
}> {}

/**
 * `querySingle` expected exactly one row and got another number.
 *
 * @example
 * ```ts
 * import { DbError } from "@berth/sql"
 *
 * const error = new DbError.RowCountError({ message: "expected exactly one row, got 0", expected: 1, actual: 0 })
 * ```
 *
 * @since 0.1.0
 */
export class RowCountError extends Data.TaggedError("RowCountError")<{
  readonly message: string
  readonly expected: number
  readonly actual: number
}> {}

/**
 * Everything a statement run through `Db` can fail with.
 *
 * @since 0.1.0
 */
export type DbError = PgError.PgError | PoolError.PoolTimeout | PoolError.PoolClosed | TxClosedError
