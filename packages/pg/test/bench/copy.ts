/**
 * Ad-hoc throughput check of PgConnection.copyFrom against pg + pg-copy-streams with the same
 * pre-encoded payload (not a test; run with
 * `node --conditions=source --import tsx packages/pg/test/bench/copy.ts <url> [rows]`).
 * The reference benchmark is workload C in packages/bench.
 */
import { Effect, Stream } from "effect"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import pg from "pg"
import { from as pgCopyFrom } from "pg-copy-streams"
import * as PgConfig from "../../src/PgConfig.js"
import * as PgConnection from "../../src/PgConnection.js"

const url = process.argv[2] ?? "postgres://postgres@127.0.0.1:5432/postgres"
const rows = Number(process.argv[3] ?? 1_000_000)
const table = "create temp table copy_bench (id int, name text, amount numeric, at timestamptz, flag bool)"

// 64 KiB chunks of text-format rows, encoded once
const chunks: Array<Uint8Array> = []
let current = ""
for (let i = 0; i < rows; i++) {
  current += `${i}\tname ${i}\t${(i % 10000) / 100}\t2024-01-01 00:00:${String(i % 60).padStart(2, "0")}+00\t${
    i % 2 === 0
  }\n`
  if (current.length > 65536) {
    chunks.push(Buffer.from(current))
    current = ""
  }
}
if (current.length > 0) chunks.push(Buffer.from(current))

const berth = () =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const conn = yield* PgConnection.connect(yield* PgConfig.parse(url))
    yield* conn.query(table)
    const t = performance.now()
    const n = yield* Stream.run(Stream.fromIterable(chunks), conn.copyFrom("copy copy_bench from stdin"))
    return { n, ms: performance.now() - t }
  })))

const pgCopy = async () => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  await client.query(table)
  const t = performance.now()
  const stream = client.query(pgCopyFrom("copy copy_bench from stdin"))
  await pipeline(Readable.from(chunks), stream)
  const ms = performance.now() - t
  const n = stream.rowCount
  await client.end()
  return { n, ms }
}

for (let round = 0; round < 3; round++) {
  for (const [name, run] of [["berth-pg copyFrom", berth], ["pg-copy-streams", pgCopy]] as const) {
    const { ms, n } = await run()
    console.log(`${name}: ${n} rows in ${ms.toFixed(0)} ms = ${Math.round(Number(n) / ms * 1000)} rows/s`)
  }
}
