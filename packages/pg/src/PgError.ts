/**
 * Typed errors of `@berth/pg`. Every failure of a connection or a statement is one of the
 * members of {@link PgError}; none of them ever carries a password or a parameter value.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type * as PgTypes from "./PgTypes.js"

/**
 * A server condition derived from the SQLSTATE of a {@link PgServerError}, so callers can
 * branch on the common ones without remembering codes (`error.condition === "UniqueViolation"`
 * or {@link catchCondition}).
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 *
 * const retryable = (c: PgError.ServerCondition) => c === "SerializationFailure" || c === "DeadlockDetected"
 * ```
 *
 * @since 0.1.0
 */
export type ServerCondition =
  | "UniqueViolation"
  | "ForeignKeyViolation"
  | "NotNullViolation"
  | "CheckViolation"
  | "ExclusionViolation"
  | "SerializationFailure"
  | "DeadlockDetected"
  | "QueryCanceled"
  | "LockNotAvailable"
  | "AdminShutdown"
  | "ConnectionException"
  | "InvalidAuthorization"
  | "UndefinedTable"
  | "UndefinedColumn"
  | "UndefinedFunction"
  | "SyntaxError"
  | "InsufficientPrivilege"
  | "InvalidTextRepresentation"
  | "Other"

const conditionByCode: Record<string, ServerCondition> = {
  "23505": "UniqueViolation",
  "23503": "ForeignKeyViolation",
  "23502": "NotNullViolation",
  "23514": "CheckViolation",
  "23P01": "ExclusionViolation",
  "40001": "SerializationFailure",
  "40P01": "DeadlockDetected",
  "57014": "QueryCanceled",
  "55P03": "LockNotAvailable",
  "57P01": "AdminShutdown",
  "42P01": "UndefinedTable",
  "42703": "UndefinedColumn",
  "42883": "UndefinedFunction",
  "42601": "SyntaxError",
  "42501": "InsufficientPrivilege",
  "22P02": "InvalidTextRepresentation"
}

/**
 * Classifies a SQLSTATE code.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 *
 * PgError.conditionOf("23505") // "UniqueViolation"
 * PgError.conditionOf("08006") // "ConnectionException"
 * ```
 *
 * @since 0.1.0
 */
export const conditionOf = (code: string): ServerCondition => {
  const exact = conditionByCode[code]
  if (exact !== undefined) return exact
  if (code.startsWith("08")) return "ConnectionException"
  if (code.startsWith("28")) return "InvalidAuthorization"
  return "Other"
}

/**
 * The fields of an ErrorResponse or NoticeResponse, by their protocol names.
 *
 * @example
 * ```ts
 * import type { PgError } from "@berth/pg"
 *
 * const where = (e: PgError.ServerErrorFields) => `${e.schema}.${e.table}.${e.column}`
 * ```
 *
 * @since 0.1.0
 */
export interface ServerErrorFields {
  /** SQLSTATE code, e.g. `23505`. */
  readonly code: string
  /** Localized severity (`ERROR`, `FATAL`, `PANIC`, `WARNING`, `NOTICE`, ...). */
  readonly severity: string
  /** Non-localized severity (PostgreSQL 9.6+). */
  readonly severityNonLocalized: string | undefined
  readonly message: string
  readonly detail: string | undefined
  readonly hint: string | undefined
  /** 1-based character position in the statement text. */
  readonly position: number | undefined
  readonly internalPosition: number | undefined
  readonly internalQuery: string | undefined
  readonly where: string | undefined
  readonly schema: string | undefined
  readonly table: string | undefined
  readonly column: string | undefined
  readonly dataType: string | undefined
  readonly constraint: string | undefined
  readonly file: string | undefined
  readonly line: number | undefined
  readonly routine: string | undefined
}

/**
 * An ErrorResponse from the server. Carries every field the server sent, the derived
 * {@link ServerCondition}, and the statement text (`sql`) — never the parameter values.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 * import { Effect } from "effect"
 *
 * declare const insert: Effect.Effect<void, PgError.PgError>
 * const program = insert.pipe(
 *   Effect.catchTag("PgServerError", (e) =>
 *     e.condition === "UniqueViolation" ? Effect.log(`duplicate: ${e.constraint}`) : Effect.fail(e))
 * )
 * ```
 *
 * @since 0.1.0
 */
export class PgServerError extends Data.TaggedError("PgServerError")<
  ServerErrorFields & {
    readonly condition: ServerCondition
    /** The statement that failed, when the error belongs to one. */
    readonly sql: string | undefined
  }
> {}

/**
 * The connection could not be established or was lost (refused, reset, closed mid-query,
 * socket error). `phase` tells when it happened.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 *
 * const e = new PgError.PgConnectionError({ message: "connection refused", phase: "connect", host: "db:5432", cause: undefined })
 * console.log(e._tag)
 * ```
 *
 * @since 0.1.0
 */
export class PgConnectionError extends Data.TaggedError("PgConnectionError")<{
  readonly message: string
  readonly phase: "connect" | "tls" | "startup" | "query" | "closed"
  readonly host: string | undefined
  readonly cause: unknown
}> {}

/**
 * The server sent something the protocol does not allow here: an unknown message type, a
 * malformed or truncated frame, an unexpected message. The connection is destroyed.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 *
 * const e = new PgError.PgProtocolError({ message: "unknown message type 0x3f" })
 * console.log(e.message)
 * ```
 *
 * @since 0.1.0
 */
export class PgProtocolError extends Data.TaggedError("PgProtocolError")<{
  readonly message: string
}> {}

/**
 * A bounded wait ran out: connect timeout (per host), or a cancel/drain that could not be
 * confirmed.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 *
 * const e = new PgError.PgTimeoutError({ message: "connect timeout", phase: "connect", host: "db:5432" })
 * console.log(e.phase)
 * ```
 *
 * @since 0.1.0
 */
export class PgTimeoutError extends Data.TaggedError("PgTimeoutError")<{
  readonly message: string
  readonly phase: "connect" | "cancel" | "close"
  readonly host: string | undefined
}> {}

/**
 * Authentication could not proceed on the client side: the server asked for a method that is
 * not supported (`method` names it), for a password that was not configured, for a cleartext
 * or MD5 password the config does not allow, or the SCRAM exchange did not verify. A wrong
 * password reported by the server is a {@link PgServerError} with code `28P01`.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 *
 * const e = new PgError.PgAuthError({ message: "GSSAPI is not supported", method: "GSSAPI" })
 * console.log(e.method)
 * ```
 *
 * @since 0.1.0
 */
export class PgAuthError extends Data.TaggedError("PgAuthError")<{
  readonly message: string
  readonly method: string
}> {}

/**
 * A connection string, environment variable or option is invalid. `part` names the key or
 * excerpt at fault (never the password), `position` its offset in the input when known.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 *
 * const e = new PgError.PgConfigError({ message: "invalid sslmode", part: "sslmode=maybe", position: 20 })
 * console.log(e.part)
 * ```
 *
 * @since 0.1.0
 */
export class PgConfigError extends Data.TaggedError("PgConfigError")<{
  readonly message: string
  readonly part: string | undefined
  readonly position: number | undefined
}> {}

/**
 * A statement was refused before it was sent: more than 65535 parameters, a NUL byte in the
 * statement text, a parameter the type registry cannot encode. The connection stays usable.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 *
 * const e = new PgError.PgInputError({ message: "too many parameters", sql: "select 1" })
 * console.log(e.sql)
 * ```
 *
 * @since 0.1.0
 */
export class PgInputError extends Data.TaggedError("PgInputError")<{
  readonly message: string
  readonly sql: string | undefined
}> {}

/**
 * Every error `@berth/pg` produces. A value the type registry cannot decode fails its statement
 * with `PgTypes.DecodeError` (tag `PgDecodeError`); the connection stays usable.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 *
 * const describe = (e: PgError.PgError): string => `${e._tag}: ${e.message}`
 * ```
 *
 * @since 0.1.0
 */
export type PgError =
  | PgServerError
  | PgTypes.DecodeError
  | PgConnectionError
  | PgProtocolError
  | PgTimeoutError
  | PgAuthError
  | PgConfigError
  | PgInputError

/**
 * Whether `u` is a {@link PgServerError}, optionally of the given condition.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 *
 * declare const e: unknown
 * if (PgError.isServerError(e, "SerializationFailure")) console.log("retry", e.code)
 * ```
 *
 * @since 0.1.0
 */
export const isServerError = (u: unknown, condition?: ServerCondition): u is PgServerError =>
  u instanceof PgServerError && (condition === undefined || u.condition === condition)

/**
 * Catches server errors of one {@link ServerCondition}; everything else passes through.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 * import { Effect } from "effect"
 *
 * declare const insert: Effect.Effect<string, PgError.PgError>
 * const program = insert.pipe(PgError.catchCondition("UniqueViolation", () => Effect.succeed("exists")))
 * ```
 *
 * @since 0.1.0
 */
export const catchCondition: {
  <A2, E2, R2>(
    condition: ServerCondition,
    f: (error: PgServerError) => Effect.Effect<A2, E2, R2>
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A | A2, E | E2, R | R2>
  <A, E, R, A2, E2, R2>(
    self: Effect.Effect<A, E, R>,
    condition: ServerCondition,
    f: (error: PgServerError) => Effect.Effect<A2, E2, R2>
  ): Effect.Effect<A | A2, E | E2, R | R2>
} = dual(3, <A, E, R, A2, E2, R2>(
  self: Effect.Effect<A, E, R>,
  condition: ServerCondition,
  f: (error: PgServerError) => Effect.Effect<A2, E2, R2>
): Effect.Effect<A | A2, E | E2, R | R2> =>
  Effect.catchIf(
    self,
    (e): e is E & PgServerError => isServerError(e, condition),
    (e) => f(e)
  ))
