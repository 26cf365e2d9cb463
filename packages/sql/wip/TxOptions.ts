/**
 * Transaction options and the statements that open a transaction with them.
 *
 * @since 0.1.0
 */
import { Data, Duration, Either } from "effect"

/**
 * The isolation levels PostgreSQL implements (`read uncommitted` behaves as
 * `read committed` there, so it is not offered).
 *
 * @since 0.1.0
 */
export type IsolationLevel = "read committed" | "repeatable read" | "serializable"

/**
 * How a transaction is opened.
 *
 * @since 0.1.0
 */
export interface TxOptions {
  /** Isolation level (default: the session's, normally `read committed`). */
  readonly isolation?: IsolationLevel | undefined
  /** `READ ONLY` (default: read write). */
  readonly readOnly?: boolean | undefined
  /** `DEFERRABLE`: only meaningful for `serializable` + `readOnly`, and rejected otherwise. */
  readonly deferrable?: boolean | undefined
  /** `SET LOCAL statement_timeout` for this transaction only. */
  readonly statementTimeout?: Duration.DurationInput | undefined
  /** `SET LOCAL lock_timeout` for this transaction only. */
  readonly lockTimeout?: Duration.DurationInput | undefined
  /** `SET LOCAL idle_in_transaction_session_timeout` for this transaction only. */
  readonly idleInTransactionSessionTimeout?: Duration.DurationInput | undefined
}

/**
 * Transaction options that make no sense, reported before anything is sent.
 *
 * @since 0.1.0
 */
export class TxOptionsError extends Data.TaggedError("TxOptionsError")<{
  readonly message: string
  readonly option: keyof TxOptions
}> {}

const isolationSql: Record<IsolationLevel, string> = {
  "read committed": "READ COMMITTED",
  "repeatable read": "REPEATABLE READ",
  serializable: "SERIALIZABLE"
}

const timeouts = [
  ["statementTimeout", "statement_timeout"],
  ["lockTimeout", "lock_timeout"],
  ["idleInTransactionSessionTimeout", "idle_in_transaction_session_timeout"]
] as const

/**
 * Renders the statements that open a transaction: a `BEGIN` with its modes, then one
 * `SET LOCAL` per timeout. Milliseconds are whole numbers (PostgreSQL's unit for these
 * settings); a timeout of zero disables the limit, as in PostgreSQL.
 *
 * @example
 * ```ts
 * import * as TxOptions from "@berth/sql/TxOptions"
 * import { Either } from "effect"
 *
 * const statements = TxOptions.statements({ isolation: "serializable", readOnly: true, lockTimeout: "2 seconds" })
 * // Either.right(["BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY", "SET LOCAL lock_timeout = 2000"])
 * console.log(Either.getOrThrow(statements))
 * ```
 *
 * @since 0.1.0
 */
export const statements = (options: TxOptions): Either.Either<ReadonlyArray<string>, TxOptionsError> => {
  const modes: Array<string> = []
  if (options.isolation !== undefined) {
    const level = isolationSql[options.isolation]
    if (level === undefined) {
      return Either.left(
        new TxOptionsError({ option: "isolation", message: `unknown isolation level ${String(options.isolation)}` })
      )
    }
    modes.push(`ISOLATION LEVEL ${level}`)
  }
  if (options.readOnly === true) modes.push("READ ONLY")
  if (options.deferrable === true) {
    if (options.isolation !== "serializable" || options.readOnly !== true) {
      return Either.left(
        new TxOptionsError({
          option: "deferrable",
          message: "deferrable applies only to serializable read-only transactions"
        })
      )
    }
    modes.push("DEFERRABLE")
  }
  const result = [modes.length === 0 ? "BEGIN" : `BEGIN ${modes.join(" ")}`]
  for (const [option, setting] of timeouts) {
    const input = options[option]
    if (input === undefined) continue
    // Duration clamps negative numbers to zero, so a negative input is caught before decoding.
    const negative = (typeof input === "number" && !(input >= 0)) || (typeof input === "bigint" && input < 0n)
    const decoded = Duration.decodeUnknown(input)
    if (negative || decoded._tag === "None" || !Duration.isFinite(decoded.value)) {
      return Either.left(new TxOptionsError({ option, message: `${option} must be a finite, non-negative duration` }))
    }
    const millis = Math.ceil(Duration.toMillis(decoded.value))
    if (millis < 0 || millis > 2_147_483_647) {
      return Either.left(
        new TxOptionsError({ option, message: `${option} must be between 0 and 2147483647 milliseconds` })
      )
    }
    result.push(`SET LOCAL ${setting} = ${millis}`)
  }
  return Either.right(result)
}
