/**
 * The migrator's pinned session: one connection reserved from the `SqlClient` for the
 * whole command, so the session-level advisory lock, the migrations and the history
 * writes all happen on the connection that holds the lock.
 *
 * @internal
 */
import type * as SqlConnection from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import type { Effect } from "effect"
import type { Stmt } from "./history.js"

/** A pinned connection with the two ways the migrator talks on it. */
export interface Session {
  readonly conn: SqlConnection.Connection
  /** A statement with bound parameters. */
  readonly run: (stmt: Stmt) => Effect.Effect<ReadonlyArray<Record<string, unknown>>, SqlError>
  /** SQL text as-is (simple protocol: may hold several statements). */
  readonly exec: (text: string) => Effect.Effect<unknown, SqlError>
}

/** Wraps a reserved connection. */
export const make = (conn: SqlConnection.Connection): Session => ({
  conn,
  run: (stmt) => conn.executeUnprepared(stmt.text, stmt.params, undefined),
  exec: (text) => conn.executeUnprepared(text, [], undefined)
})
