/**
 * Typed errors of `@berth/pg`. Every failure of a connection or a statement is one of the
 * members of {@link PgError}; none of them ever carries a password or a parameter value.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Predicate from "effect/Predicate"
import * as Record from "effect/Record"
import type * as PgTypes from "./PgTypes.js"

/**
 * A server condition derived from the SQLSTATE of a server error, so callers can branch on the
 * common ones without remembering codes (`error.condition === "UniqueViolation"` or
 * {@link catchCondition}). The most common conditions also have their own `_tag` (see
 * {@link ServerErrorTag}), so `Effect.catchTag` works on them directly.
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
  | "CrashShutdown"
  | "CannotConnectNow"
  | "ConnectionException"
  | "InvalidAuthorization"
  | "UndefinedTable"
  | "UndefinedColumn"
  | "UndefinedFunction"
  | "SyntaxError"
  | "InsufficientPrivilege"
  | "InvalidTextRepresentation"
  | "Other"

const conditionByCode: { readonly [code: string]: ServerCondition } = {
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
  "57P02": "CrashShutdown",
  "57P03": "CannotConnectNow",
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
 * What every server error carries: every field the server sent, the derived
 * {@link ServerCondition}, and the statement text (`sql`) — never the parameter values.
 *
 * @example
 * ```ts
 * import type { PgError } from "@berth/pg"
 *
 * const show = (e: PgError.ServerErrorProps) => `${e.code} (${e.condition}) ${e.message} in ${e.sql ?? "-"}`
 * ```
 *
 * @since 0.1.0
 */
export interface ServerErrorProps extends ServerErrorFields {
  readonly condition: ServerCondition
  /** The statement that failed, when the error belongs to one. */
  readonly sql: string | undefined
}

/**
 * `23505` unique_violation: a row collides with a unique index or constraint (`constraint`
 * names it, `detail` shows the key).
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 * import { Effect } from "effect"
 *
 * declare const insert: Effect.Effect<void, PgError.PgError>
 * const program = insert.pipe(Effect.catchTag("PgUniqueViolation", (e) => Effect.log(`exists: ${e.constraint}`)))
 * ```
 *
 * @since 0.1.0
 */
export class PgUniqueViolation extends Data.TaggedError("PgUniqueViolation")<ServerErrorProps> {}

/**
 * `23503` foreign_key_violation: a referenced row is missing, or a referencing row still exists.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 * import { Effect } from "effect"
 *
 * declare const insert: Effect.Effect<void, PgError.PgError>
 * const program = insert.pipe(Effect.catchTag("PgForeignKeyViolation", (e) => Effect.fail(`no parent: ${e.detail}`)))
 * ```
 *
 * @since 0.1.0
 */
export class PgForeignKeyViolation extends Data.TaggedError("PgForeignKeyViolation")<ServerErrorProps> {}

/**
 * `23502` not_null_violation: `column` is `NULL` but declared `NOT NULL`.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 * import { Effect } from "effect"
 *
 * declare const insert: Effect.Effect<void, PgError.PgError>
 * const program = insert.pipe(Effect.catchTag("PgNotNullViolation", (e) => Effect.fail(`${e.column} is required`)))
 * ```
 *
 * @since 0.1.0
 */
export class PgNotNullViolation extends Data.TaggedError("PgNotNullViolation")<ServerErrorProps> {}

/**
 * `23514` check_violation: a `CHECK` constraint (`constraint`) rejected the row.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 * import { Effect } from "effect"
 *
 * declare const update: Effect.Effect<void, PgError.PgError>
 * const program = update.pipe(Effect.catchTag("PgCheckViolation", (e) => Effect.fail(`invalid: ${e.constraint}`)))
 * ```
 *
 * @since 0.1.0
 */
export class PgCheckViolation extends Data.TaggedError("PgCheckViolation")<ServerErrorProps> {}

/**
 * `23P01` exclusion_violation: the row conflicts with another under an `EXCLUDE` constraint
 * (overlapping ranges, typically).
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 * import { Effect } from "effect"
 *
 * declare const book: Effect.Effect<void, PgError.PgError>
 * const program = book.pipe(Effect.catchTag("PgExclusionViolation", () => Effect.fail("slot taken" as const)))
 * ```
 *
 * @since 0.1.0
 */
export class PgExclusionViolation extends Data.TaggedError("PgExclusionViolation")<ServerErrorProps> {}

/**
 * `40001` serialization_failure: a `REPEATABLE READ` or `SERIALIZABLE` transaction lost a race;
 * re-running the whole transaction can succeed.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 * import { Effect } from "effect"
 *
 * declare const transfer: Effect.Effect<void, PgError.PgError>
 * const program = transfer.pipe(Effect.catchTag("PgSerializationFailure", () => transfer))
 * ```
 *
 * @since 0.1.0
 */
export class PgSerializationFailure extends Data.TaggedError("PgSerializationFailure")<ServerErrorProps> {}

/**
 * `40P01` deadlock_detected: the server aborted this transaction to break a lock cycle;
 * re-running the whole transaction can succeed.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 * import { Effect } from "effect"
 *
 * declare const transfer: Effect.Effect<void, PgError.PgError>
 * const program = transfer.pipe(Effect.catchTag("PgDeadlockDetected", () => transfer))
 * ```
 *
 * @since 0.1.0
 */
export class PgDeadlockDetected extends Data.TaggedError("PgDeadlockDetected")<ServerErrorProps> {}

/**
 * `57014` query_canceled: `statement_timeout` ran out, or a cancel request stopped the statement
 * (an interrupted fiber never sees it: its caller has already returned).
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 * import { Effect } from "effect"
 *
 * declare const report: Effect.Effect<string, PgError.PgError>
 * const program = report.pipe(Effect.catchTag("PgQueryCanceled", () => Effect.succeed("too slow")))
 * ```
 *
 * @since 0.1.0
 */
export class PgQueryCanceled extends Data.TaggedError("PgQueryCanceled")<ServerErrorProps> {}

/**
 * `55P03` lock_not_available: `NOWAIT` or `lock_timeout` gave up on a lock.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 * import { Effect } from "effect"
 *
 * declare const claim: Effect.Effect<boolean, PgError.PgError>
 * const program = claim.pipe(Effect.catchTag("PgLockNotAvailable", () => Effect.succeed(false)))
 * ```
 *
 * @since 0.1.0
 */
export class PgLockNotAvailable extends Data.TaggedError("PgLockNotAvailable")<ServerErrorProps> {}

/**
 * The server ended or refused the session because of its own state: `57P01` admin_shutdown
 * (`pg_terminate_backend`, a fast or smart shutdown), `57P02` crash_shutdown (another backend
 * crashed and the server is restarting), `57P03` cannot_connect_now (starting up, shutting down,
 * in recovery). `condition` tells which. The connection is unusable; a new one may succeed later.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 * import { Effect } from "effect"
 *
 * declare const job: Effect.Effect<void, PgError.PgError>
 * const program = job.pipe(Effect.catchTag("PgAdminShutdown", (e) => Effect.logWarning(`server went away: ${e.condition}`)))
 * ```
 *
 * @since 0.1.0
 */
export class PgAdminShutdown extends Data.TaggedError("PgAdminShutdown")<ServerErrorProps> {}

/**
 * Class `08` connection_exception reported by the server: `08P01` protocol_violation (e.g. a
 * parameter count mismatch), `08006` connection_failure, `08004` rejected connection, ....
 * Failures the client detects itself (refused, reset) are {@link PgConnectionError}.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 * import { Effect } from "effect"
 *
 * declare const query: Effect.Effect<void, PgError.PgError>
 * const program = query.pipe(Effect.catchTag("PgConnectionException", (e) => Effect.logError(e.code, e.message)))
 * ```
 *
 * @since 0.1.0
 */
export class PgConnectionException extends Data.TaggedError("PgConnectionException")<ServerErrorProps> {}

/**
 * Class `28` invalid_authorization_specification: `28P01` wrong password, `28000` no
 * `pg_hba.conf` entry or unknown role. Failures of the client side of authentication are
 * {@link PgAuthError}.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 * import { Effect } from "effect"
 *
 * declare const connect: Effect.Effect<void, PgError.PgError>
 * const program = connect.pipe(
 *   Effect.catchTag("PgInvalidAuthorization", (e) => Effect.fail(e.code === "28P01" ? "wrong password" : "not allowed"))
 * )
 * ```
 *
 * @since 0.1.0
 */
export class PgInvalidAuthorization extends Data.TaggedError("PgInvalidAuthorization")<ServerErrorProps> {}

/**
 * `42P01` undefined_table: the statement names a table or view that does not exist (or is not
 * on the `search_path`).
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 * import { Effect } from "effect"
 *
 * declare const count: Effect.Effect<number, PgError.PgError>
 * const program = count.pipe(Effect.catchTag("PgUndefinedTable", () => Effect.succeed(0)))
 * ```
 *
 * @since 0.1.0
 */
export class PgUndefinedTable extends Data.TaggedError("PgUndefinedTable")<ServerErrorProps> {}

/**
 * `42703` undefined_column: the statement names a column that does not exist.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 * import { Effect } from "effect"
 *
 * declare const query: Effect.Effect<void, PgError.PgError>
 * const program = query.pipe(Effect.catchTag("PgUndefinedColumn", (e) => Effect.die(`schema drift: ${e.message}`)))
 * ```
 *
 * @since 0.1.0
 */
export class PgUndefinedColumn extends Data.TaggedError("PgUndefinedColumn")<ServerErrorProps> {}

/**
 * `42601` syntax_error: the statement does not parse; `position` is the 1-based offset of the
 * offending token.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 * import { Effect } from "effect"
 *
 * declare const query: Effect.Effect<void, PgError.PgError>
 * const program = query.pipe(Effect.catchTag("PgSyntaxError", (e) => Effect.die(`at ${e.position}: ${e.sql}`)))
 * ```
 *
 * @since 0.1.0
 */
export class PgSyntaxError extends Data.TaggedError("PgSyntaxError")<ServerErrorProps> {}

/**
 * `42501` insufficient_privilege: the role lacks a privilege the statement needs.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 * import { Effect } from "effect"
 *
 * declare const audit: Effect.Effect<void, PgError.PgError>
 * const program = audit.pipe(Effect.catchTag("PgInsufficientPrivilege", (e) => Effect.logWarning(e.message)))
 * ```
 *
 * @since 0.1.0
 */
export class PgInsufficientPrivilege extends Data.TaggedError("PgInsufficientPrivilege")<ServerErrorProps> {}

/**
 * A server error of any SQLSTATE without a class of its own (tag `"PgServerError"`, e.g. `22012`
 * division_by_zero, `25P02` in_failed_sql_transaction). `condition` still classifies it
 * (`UndefinedFunction`, `InvalidTextRepresentation` or `Other`).
 *
 * The type of *any* server error is the union {@link PgServerError}; catching the tag
 * `"PgServerError"` catches only the unclassified ones.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 * import { Effect } from "effect"
 *
 * declare const query: Effect.Effect<number, PgError.PgError>
 * const program = query.pipe(
 *   Effect.catchTag("PgServerError", (e) => e.code === "22012" ? Effect.succeed(0) : Effect.fail(e))
 * )
 * ```
 *
 * @since 0.1.0
 */
export class PgOtherServerError extends Data.TaggedError("PgServerError")<ServerErrorProps> {}

/**
 * Any ErrorResponse from the server: the union of the classified server errors and
 * {@link PgOtherServerError}. Each member carries every field the server sent, the derived
 * {@link ServerCondition}, and the statement text (`sql`) — never the parameter values. Test for
 * it with {@link isServerError}; `_tag` tells the class.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 * import { Effect } from "effect"
 *
 * declare const insert: Effect.Effect<void, PgError.PgError>
 * const program = insert.pipe(
 *   Effect.catchTag("PgUniqueViolation", (e) => Effect.log(`duplicate: ${e.constraint}`)),
 *   PgError.catchServerError((e: PgError.PgServerError) => Effect.fail(`${e._tag} ${e.code}: ${e.message}`))
 * )
 * ```
 *
 * @since 0.1.0
 */
export type PgServerError =
  | PgUniqueViolation
  | PgForeignKeyViolation
  | PgNotNullViolation
  | PgCheckViolation
  | PgExclusionViolation
  | PgSerializationFailure
  | PgDeadlockDetected
  | PgQueryCanceled
  | PgLockNotAvailable
  | PgAdminShutdown
  | PgConnectionException
  | PgInvalidAuthorization
  | PgUndefinedTable
  | PgUndefinedColumn
  | PgSyntaxError
  | PgInsufficientPrivilege
  | PgOtherServerError

/**
 * The `_tag` of a server error.
 *
 * @example
 * ```ts
 * import type { PgError } from "@berth/pg"
 *
 * const retryable = (tag: PgError.ServerErrorTag) => tag === "PgSerializationFailure" || tag === "PgDeadlockDetected"
 * ```
 *
 * @since 0.1.0
 */
export type ServerErrorTag = PgServerError["_tag"]

const tagByCondition: { readonly [C in ServerCondition]: ServerErrorTag } = {
  UniqueViolation: "PgUniqueViolation",
  ForeignKeyViolation: "PgForeignKeyViolation",
  NotNullViolation: "PgNotNullViolation",
  CheckViolation: "PgCheckViolation",
  ExclusionViolation: "PgExclusionViolation",
  SerializationFailure: "PgSerializationFailure",
  DeadlockDetected: "PgDeadlockDetected",
  QueryCanceled: "PgQueryCanceled",
  LockNotAvailable: "PgLockNotAvailable",
  AdminShutdown: "PgAdminShutdown",
  CrashShutdown: "PgAdminShutdown",
  CannotConnectNow: "PgAdminShutdown",
  ConnectionException: "PgConnectionException",
  InvalidAuthorization: "PgInvalidAuthorization",
  UndefinedTable: "PgUndefinedTable",
  UndefinedColumn: "PgUndefinedColumn",
  UndefinedFunction: "PgServerError",
  SyntaxError: "PgSyntaxError",
  InsufficientPrivilege: "PgInsufficientPrivilege",
  InvalidTextRepresentation: "PgServerError",
  Other: "PgServerError"
}

const classByTag: {
  readonly [T in ServerErrorTag]: new(props: ServerErrorProps) => Extract<PgServerError, { readonly _tag: T }>
} = {
  PgUniqueViolation,
  PgForeignKeyViolation,
  PgNotNullViolation,
  PgCheckViolation,
  PgExclusionViolation,
  PgSerializationFailure,
  PgDeadlockDetected,
  PgQueryCanceled,
  PgLockNotAvailable,
  PgAdminShutdown,
  PgConnectionException,
  PgInvalidAuthorization,
  PgUndefinedTable,
  PgUndefinedColumn,
  PgSyntaxError,
  PgInsufficientPrivilege,
  PgServerError: PgOtherServerError
}

/**
 * Every server error tag, the classified ones first and `"PgServerError"` (unclassified) last.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 *
 * console.log(PgError.serverErrorTags.length) // 17
 * ```
 *
 * @since 0.1.0
 */
export const serverErrorTags: ReadonlyArray<ServerErrorTag> = Record.keys(classByTag)

const serverErrorTagSet: ReadonlySet<string> = new Set(serverErrorTags)

/**
 * Whether `tag` is the tag of a server error (one of {@link serverErrorTags}).
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 *
 * PgError.isServerErrorTag("PgUniqueViolation") // true
 * PgError.isServerErrorTag("PgConnectionError") // false
 * ```
 *
 * @since 0.1.0
 */
export const isServerErrorTag = (tag: unknown): tag is ServerErrorTag =>
  typeof tag === "string" && serverErrorTagSet.has(tag)

/**
 * The tag a server error with this SQLSTATE gets.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 *
 * PgError.serverErrorTagOf("23505") // "PgUniqueViolation"
 * PgError.serverErrorTagOf("28P01") // "PgInvalidAuthorization"
 * PgError.serverErrorTagOf("22012") // "PgServerError"
 * ```
 *
 * @since 0.1.0
 */
export const serverErrorTagOf = (code: string): ServerErrorTag => tagByCondition[conditionOf(code)]

/**
 * Builds the server error of the class its SQLSTATE selects, deriving `condition` from `code`.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 *
 * const e = PgError.makeServerError({
 *   code: "40001", severity: "ERROR", severityNonLocalized: "ERROR", message: "could not serialize access",
 *   detail: undefined, hint: undefined, position: undefined, internalPosition: undefined, internalQuery: undefined,
 *   where: undefined, schema: undefined, table: undefined, column: undefined, dataType: undefined,
 *   constraint: undefined, file: undefined, line: undefined, routine: undefined
 * }, "commit")
 * console.log(e._tag) // "PgSerializationFailure"
 * ```
 *
 * @since 0.1.0
 */
export const makeServerError = (fields: ServerErrorFields, sql: string | undefined): PgServerError => {
  const condition = conditionOf(fields.code)
  const Class = classByTag[tagByCondition[condition]]
  return new Class({ ...fields, condition, sql })
}

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
 * password reported by the server is a {@link PgInvalidAuthorization} with code `28P01`.
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
 * Every error `@berth/pg` produces. Server errors are the members of {@link PgServerError}, one
 * class (and `_tag`) per common SQLSTATE class, so `Effect.catchTag("PgUniqueViolation", ...)`
 * works on it. A value the type registry cannot decode fails its statement with
 * `PgTypes.DecodeError` (tag `PgDecodeError`); the connection stays usable.
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
 * Whether `u` is a server error — any member of {@link PgServerError}, whatever its tag —
 * optionally of the given condition.
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
  Predicate.hasProperty(u, "_tag") && isServerErrorTag(u._tag) && u instanceof classByTag[u._tag] &&
  (condition === undefined || u.condition === condition)

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

/**
 * Catches every server error, whatever its tag (the whole {@link PgServerError} union), and
 * removes them from the error channel; everything else passes through. Put it after the
 * `Effect.catchTag`s of the specific classes you handle.
 *
 * @example
 * ```ts
 * import { PgError } from "@berth/pg"
 * import { Effect } from "effect"
 *
 * declare const insert: Effect.Effect<string, PgError.PgError>
 * // Effect<string, string | PgError.PgConnectionError | ...>: no server error left
 * const program = insert.pipe(
 *   Effect.catchTag("PgUniqueViolation", () => Effect.succeed("exists")),
 *   PgError.catchServerError((e) => Effect.fail(`${e.code}: ${e.message}`))
 * )
 * ```
 *
 * @since 0.1.0
 */
export const catchServerError: {
  <A2, E2, R2>(
    f: (error: PgServerError) => Effect.Effect<A2, E2, R2>
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A | A2, Exclude<E, PgServerError> | E2, R | R2>
  <A, E, R, A2, E2, R2>(
    self: Effect.Effect<A, E, R>,
    f: (error: PgServerError) => Effect.Effect<A2, E2, R2>
  ): Effect.Effect<A | A2, Exclude<E, PgServerError> | E2, R | R2>
} = dual(2, <A, E, R, A2, E2, R2>(
  self: Effect.Effect<A, E, R>,
  f: (error: PgServerError) => Effect.Effect<A2, E2, R2>
): Effect.Effect<A | A2, Exclude<E, PgServerError> | E2, R | R2> =>
  Effect.catchAll(self, (e): Effect.Effect<A2, Exclude<E, PgServerError> | E2, R2> =>
    isServerError(e)
      ? f(e)
      // not a server error, so it is a member of `E` outside the union; TypeScript cannot
      // narrow a type parameter by a refinement's negation
      : Effect.fail(e as Exclude<E, PgServerError>)))
