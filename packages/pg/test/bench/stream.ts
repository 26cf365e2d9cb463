/**
 * Ad-hoc throughput check of PgConnection.stream against pg + pg-cursor (not a test; run with
 * `node --conditions=source --import tsx packages/pg/test/bench/stream.ts <url> [rows]`).
 * The reference benchmark is workload B in packages/bench.
 */
import { Effect, Stream } from "effect"
import pg from "pg"
import Cursor from "pg-cursor"
import * as PgConfig from "../../src/PgConfig.js"
import * as PgConnection from "../../src/PgConnection.js"

const url = process.argv[2] ?? "postgres://postgres@127.0.0.1:5432/postgres"
const rows = Number(process.argv[3] ?? 1_000_000)
const sql = "select g as id, g::int8 * 1000 as big, 'name ' || g as name, (g % 1000)::float8 / 7 as ratio, " +
  "timestamptz '2024-01-01' + g * interval '1 second' as created from generate_series(1, $1::int) g"

const berth = (fetchSize: number) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const conn = yield* PgConnection.connect(yield* PgConfig.parse(url))
    // once to describe (binary columns from the second run on)
    yield* Stream.runDrain(conn.stream(sql, [10], { fetchSize }))
    const t = performance.now()
    const n = yield* Stream.runCount(conn.stream(sql, [rows], { fetchSize }))
    return { n, ms: performance.now() - t }
  })))

const pgCursor = async (fetchSize: number) => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const t = performance.now()
  const cursor = client.query(new Cursor(sql, [rows]))
  let n = 0
  for (;;) {
    const batch = await cursor.read(fetchSize)
    if (batch.length === 0) break
    n += batch.length
  }
  await cursor.close()
  const ms = performance.now() - t
  await client.end()
  return { n, ms }
}

for (let round = 0; round < 3; round++) {
  for (const [name, run] of [["berth-pg stream", berth], ["pg-cursor", pgCursor]] as const) {
    const { ms, n } = await run(1000)
    console.log(`${name}: ${n} rows in ${ms.toFixed(0)} ms = ${Math.round(n / ms * 1000)} rows/s`)
  }
}
