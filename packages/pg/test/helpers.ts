import * as PgConfig from "@berth/pg/PgConfig"
import * as PgConnection from "@berth/pg/PgConnection"
import * as TestDatabase from "@berth/testing/TestDatabase"
import { Effect } from "effect"

/** The harness database as a PgConfig (environment ignored). */
export const testConfig = (overrides: PgConfig.MakeOptions = {}): PgConfig.PgConfig => {
  const db = TestDatabase.current()
  return PgConfig.make({
    host: db.host,
    port: db.port,
    user: db.user,
    database: db.database,
    ...(db.password !== "" ? { password: db.password } : {}),
    sslmode: "disable",
    ...overrides
  })
}

export const connectTest = (overrides: PgConfig.MakeOptions = {}, options: PgConnection.ConnectOptions = {}) =>
  PgConnection.connect(testConfig(overrides), options)

/** A second connection, used to observe the server from the outside. */
export const withObserver = <A, E, R>(f: (conn: PgConnection.PgConnection) => Effect.Effect<A, E, R>) =>
  Effect.scoped(Effect.flatMap(connectTest(), f))
