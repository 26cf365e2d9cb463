/**
 * One freshly created database per test file, dropped when the file ends.
 *
 * @since 0.1.0
 */
import * as crypto from "node:crypto"
import { quoteIdent, withAdmin } from "./internal/admin.js"
import type { ServerInfo } from "./TestServer.js"

/**
 * Connection facts of a test database.
 *
 * @since 0.1.0
 */
export interface TestDatabase {
  readonly url: string
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string
  readonly database: string
  readonly socketDir: string | undefined
  /** `server_version_num` of the server, e.g. 150010. */
  readonly versionNum: number
  /** The server this database lives on (its `url` is the administrative database). */
  readonly server: ServerInfo
}

/**
 * A created database and the function that drops it.
 *
 * @since 0.1.0
 */
export interface OwnedTestDatabase extends TestDatabase {
  readonly drop: () => Promise<void>
}

const withDatabase = (url: string, database: string): string => {
  const parsed = new URL(url)
  parsed.pathname = `/${encodeURIComponent(database)}`
  return parsed.toString()
}

/**
 * Creates a database with a unique name on `server`.
 *
 * @example
 * ```ts
 * import * as TestDatabase from "@berth/testing/TestDatabase"
 * import * as TestServer from "@berth/testing/TestServer"
 *
 * const server = await TestServer.start()
 * const db = await TestDatabase.create(server)
 * console.log(db.url)
 * await db.drop()
 * await server.stop()
 * ```
 *
 * @since 0.1.0
 */
export const create = async (server: ServerInfo, prefix = "berth_test"): Promise<OwnedTestDatabase> => {
  const database = `${prefix}_${process.pid}_${crypto.randomBytes(5).toString("hex")}`
  await withAdmin(server.url, (client) => client.query(`create database ${quoteIdent(database)}`))
  return {
    url: withDatabase(server.url, database),
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    database,
    socketDir: server.socketDir,
    versionNum: server.versionNum,
    server,
    drop: async () => {
      const drop = server.versionNum >= 130000
        ? `drop database if exists ${quoteIdent(database)} with (force)`
        : `drop database if exists ${quoteIdent(database)}`
      await withAdmin(server.url, (client) => client.query(drop))
    }
  }
}

const currentKey = Symbol.for("@berth/testing/TestDatabase/current")

/**
 * Records the database of the running test file. Called by the vitest setup file.
 *
 * @since 0.1.0
 */
export const setCurrent = (database: TestDatabase): void => {
  ;(globalThis as Record<symbol, unknown>)[currentKey] = database
}

/**
 * The database of the running test file (created by the harness before the file's tests).
 *
 * @example
 * ```ts
 * import * as TestDatabase from "@berth/testing/TestDatabase"
 *
 * const { url } = TestDatabase.current()
 * ```
 *
 * @since 0.1.0
 */
export const current = (): TestDatabase => {
  const database = (globalThis as Record<symbol, unknown>)[currentKey] as TestDatabase | undefined
  if (database === undefined) {
    throw new Error(
      "[berth/testing] no test database: this file does not run under the Berth vitest harness " +
        "(packages/testing/src/vitest/setupFile.ts)"
    )
  }
  return database
}
