/**
 * The PostgreSQL server a test run talks to: the one named by `BERTH_TEST_DATABASE_URL` or
 * `DATABASE_URL`, or else an embedded server started for the run and removed after it.
 *
 * @since 0.1.0
 */
import { withAdmin } from "./internal/admin.js"
import { startEmbedded } from "./internal/embedded.js"
import { redactUrl } from "./internal/redact.js"

declare module "vitest" {
  /** What the harness's global setup provides to every test file (`inject("berthServer")`). */
  export interface ProvidedContext {
    berthServer: ServerInfo
  }
}

/**
 * Where a test server came from.
 *
 * @since 0.1.0
 */
export type Source = "BERTH_TEST_DATABASE_URL" | "DATABASE_URL" | "embedded"

/**
 * Connection facts of a test server. `url` points at an administrative database that the
 * harness uses to create and drop per-file databases; tests get their own database from
 * `TestDatabase`.
 *
 * @since 0.1.0
 */
export interface ServerInfo {
  readonly source: Source
  readonly url: string
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string
  readonly database: string
  /** The Unix socket directory, when the harness knows it (embedded servers). */
  readonly socketDir: string | undefined
  /** `server_version_num`, e.g. 170006. */
  readonly versionNum: number
}

/**
 * A test server together with the function that releases it (stops an embedded server and
 * deletes its files; does nothing to an external server).
 *
 * @since 0.1.0
 */
export interface TestServer extends ServerInfo {
  readonly stop: () => Promise<void>
}

/**
 * Options of {@link start}.
 *
 * @since 0.1.0
 */
export interface StartOptions {
  /** The environment to read URLs from (default: `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Where progress lines go (default: `console.log`). */
  readonly log?: (line: string) => void
}

const buildUrl = (info: { user: string; password: string; host: string; port: number; database: string }): string =>
  `postgres://${encodeURIComponent(info.user)}:${encodeURIComponent(info.password)}@${info.host}:${info.port}/${
    encodeURIComponent(info.database)
  }`

const serverVersion = (url: string): Promise<number> =>
  withAdmin(url, async (client) => {
    const result = await client.query<{ v: string }>("select current_setting('server_version_num') as v")
    return Number(result.rows[0]?.v)
  })

/**
 * Checks that the server at `url` answers and returns its facts, or fails with a
 * one-paragraph error naming the URL (password redacted), the variable it came from and
 * what was tried.
 *
 * @example
 * ```ts
 * import * as TestServer from "@berth/testing/TestServer"
 *
 * const server = await TestServer.fromUrl("postgres://postgres@127.0.0.1:5432/postgres", "DATABASE_URL")
 * console.log(server.versionNum)
 * ```
 *
 * @since 0.1.0
 */
export const fromUrl = async (url: string, source: Exclude<Source, "embedded">): Promise<TestServer> => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw harnessError(`${source} is not a valid postgres:// URL: ${redactUrl(url)}.`)
  }
  try {
    const versionNum = await serverVersion(url)
    return {
      source,
      url,
      host: parsed.hostname === "" ? "localhost" : parsed.hostname,
      port: parsed.port === "" ? 5432 : Number(parsed.port),
      user: decodeURIComponent(parsed.username),
      password: decodeURIComponent(parsed.password),
      database: decodeURIComponent(parsed.pathname.slice(1)) || decodeURIComponent(parsed.username),
      socketDir: undefined,
      versionNum,
      stop: () => Promise.resolve()
    }
  } catch (cause) {
    const reason = cause instanceof Error ? (cause.message || cause.name) : String(cause)
    throw harnessError(
      `Could not reach the PostgreSQL server at ${redactUrl(url)} (from ${source}): ${reason}. ` +
        `Tried one connection with a 5 s timeout and "select current_setting('server_version_num')". ` +
        `Start that server, fix ${source}, or unset BERTH_TEST_DATABASE_URL and DATABASE_URL to let the ` +
        `harness start an embedded server.`
    )
  }
}

/**
 * Resolves the server for a test run: `BERTH_TEST_DATABASE_URL`, else `DATABASE_URL`, else
 * an embedded server on a free port in a temporary directory.
 *
 * @example
 * ```ts
 * import * as TestServer from "@berth/testing/TestServer"
 *
 * const server = await TestServer.start()
 * try {
 *   console.log(server.source, server.url)
 * } finally {
 *   await server.stop()
 * }
 * ```
 *
 * @since 0.1.0
 */
export const start = async (options: StartOptions = {}): Promise<TestServer> => {
  const env = options.env ?? process.env
  const log = options.log ?? ((line: string) => console.log(line))
  for (const source of ["BERTH_TEST_DATABASE_URL", "DATABASE_URL"] as const) {
    const url = env[source]
    if (url !== undefined && url !== "") {
      const server = await fromUrl(url, source)
      log(`[berth/testing] using the PostgreSQL server at ${redactUrl(url)} (from ${source})`)
      return server
    }
  }
  const embedded = await startEmbedded(log).catch((cause: unknown) => {
    throw harnessError(
      `${cause instanceof Error ? cause.message : String(cause)}\n` +
        `Neither BERTH_TEST_DATABASE_URL nor DATABASE_URL is set, so the harness tried to start an embedded ` +
        `server. Set one of them to use your own server.`
    )
  })
  const url = buildUrl(embedded)
  try {
    const versionNum = await serverVersion(url)
    return { source: "embedded", url, ...embedded, versionNum }
  } catch (cause) {
    await embedded.stop()
    throw cause
  }
}

const harnessError = (message: string): Error => {
  const error = new Error(`[berth/testing] ${message}`)
  // The message says everything; a stack of harness frames would only bury it.
  error.stack = error.message
  return error
}
