/**
 * The SqlClient the CLI runs on, built from `--database-url` / `DATABASE_URL` (or, when
 * neither is set, the `PG*` environment variables the driver reads). The only place the
 * CLI names a driver: swap this module to run it on another SqlClient.
 *
 * @internal
 */
import { PgClient } from "@effect/sql-pg"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Duration, type Layer, Redacted } from "effect"

/** A small pool: the migrator pins one connection; reads may use a second. */
export const layer = (url: string | undefined): Layer.Layer<SqlClient.SqlClient, SqlError> =>
  PgClient.layer({
    ...(url === undefined || url === "" ? {} : { url: Redacted.make(url) }),
    applicationName: "berth-migrate",
    maxConnections: 2,
    connectTimeout: Duration.seconds(10)
  })
