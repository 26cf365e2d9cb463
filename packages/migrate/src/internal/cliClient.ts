/**
 * The SqlClient the CLI runs on, built from `--database-url` / `DATABASE_URL` (or, when
 * neither is set, the libpq `PG*` environment variables): Berth's own `@effect/sql` client on
 * a small `@berth/sql` pool. The only place the CLI names a driver.
 *
 * @internal
 */
import { EffectSql } from "@berth/sql"
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { Layer } from "effect"

/** A small pool: the migrator pins one connection; reads may use a second. */
export const layer = (url: string | undefined): Layer.Layer<SqlClient.SqlClient, SqlError> => {
  const options = { maxOpen: 2 }
  const live = url === undefined || url === "" ? EffectSql.layerConfig(options) : EffectSql.layerUrl(url, options)
  return live.pipe(
    Layer.mapError((error) =>
      error instanceof SqlError
        ? error
        : new SqlError({ cause: error, message: "message" in error ? String(error.message) : String(error) })
    )
  )
}
