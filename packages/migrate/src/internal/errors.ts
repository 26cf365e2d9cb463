/**
 * Extracting what the server said from whatever a migration failed with.
 *
 * @internal
 */
import { Cause } from "effect"
import type { ServerError } from "../MigrateError.js"

const field = (u: Record<string, unknown>, name: string): string | undefined => {
  const v = u[name]
  return v === undefined || v === null || v === "" ? undefined : String(v)
}

const looksLikeServerError = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && typeof (u as Record<string, unknown>)["code"] === "string" &&
  typeof (u as Record<string, unknown>)["message"] === "string"

/**
 * The PostgreSQL error inside `error`: an `@effect/sql` `SqlError` whose `cause` is the
 * driver's error (node-postgres and Berth both expose `code`, `detail`, `hint`, ...), the
 * driver error itself, or anything else (its message only).
 */
export const serverError = (error: unknown, statement?: string): ServerError => {
  let current: unknown = error
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    if (looksLikeServerError(current)) {
      return {
        message: String(current["message"]),
        code: field(current, "code"),
        detail: field(current, "detail"),
        hint: field(current, "hint"),
        position: field(current, "position"),
        where: field(current, "where"),
        statement: statement === undefined ? undefined : statement.slice(0, 4000)
      }
    }
    current = typeof current === "object" ? (current as Record<string, unknown>)["cause"] : undefined
  }
  const message = typeof error === "object" && error !== null && typeof (error as Error).message === "string"
    ? (error as Error).message
    : String(error)
  return {
    message,
    code: undefined,
    detail: undefined,
    hint: undefined,
    position: undefined,
    where: undefined,
    statement: statement === undefined ? undefined : statement.slice(0, 4000)
  }
}

/** The error of a failed cause (its first failure, or the defect). */
export const fromCause = (cause: Cause.Cause<unknown>): unknown => Cause.squash(cause)
