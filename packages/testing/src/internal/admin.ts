import pg from "pg"

/**
 * A short-lived administrative connection, used by the harness to check a server and to
 * create and drop the per-file databases. The harness sits below `@berth/pg` in the test
 * stack (it must work while that package is being developed), so it uses `pg`.
 */
export const withAdmin = async <A>(
  url: string,
  f: (client: pg.Client) => Promise<A>,
  connectTimeoutMillis = 5_000
): Promise<A> => {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMillis })
  // An error event after connect (server shutdown) must not crash the test process.
  client.on("error", () => undefined)
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** Quotes an SQL identifier. */
export const quoteIdent = (name: string): string => `"${name.replace(/"/g, "\"\"")}"`
