/**
 * Micro-benchmark: decode cost per value in text vs binary result format, for each built-in type,
 * on real server output. Run it against any server:
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx packages/pg/test/types/bench.ts
 *
 * The text path includes the UTF-8 → string step a connection must do before a text decoder
 * runs; the binary path decodes a view on the same receive buffer. Rounds alternate text and
 * binary; the fastest of 15 rounds is reported (the
 * least disturbed by other processes on a shared machine). The results choose `Codec.format` (docs/types.md).
 */
import pg from "pg"
import * as PgTypes from "../../src/PgTypes.js"

const url = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres"
const raw = { getTypeParser: () => (value: string) => value }

const workloads: ReadonlyArray<readonly [label: string, type: string, expr: string]> = [
  ["bool", "bool", "i % 2 = 0"],
  ["int2", "int2", "(i % 30000)::int2"],
  ["int4", "int4", "(i * 7919 % 2000000000)::int4"],
  ["int8 (bigint)", "int8", "(i::int8 * 1000000007)"],
  ["float4", "float4", "(random() * 1000)::float4"],
  ["float8", "float8", "random() * 1e6"],
  ["numeric", "numeric", "(random() * 1e6)::numeric(20,6)"],
  ["uuid", "uuid", "md5(i::text)::uuid"],
  ["date", "date", "date '2000-01-01' + (i % 20000)"],
  ["timestamptz", "timestamptz", "timestamptz '2000-01-01' + i * interval '1.234567 seconds'"],
  ["interval", "interval", "i * interval '1 day 1.5 seconds'"],
  ["text (20 chars)", "text", "repeat(chr(97 + i % 26), 20)"],
  ["bytea (32 bytes)", "bytea", "decode(md5(i::text) || md5(i::text), 'hex')"],
  ["jsonb", "jsonb", "jsonb_build_object('id', i, 'name', 'n' || i)"],
  ["int4[] (10)", "int4[]", "array[i, i+1, i+2, i+3, i+4, i+5, i+6, i+7, i+8, i+9]"],
  ["int8[] (10)", "int8[]", "array[i, i+1, i+2, i+3, i+4, i+5, i+6, i+7, i+8, i+9]::int8[]"],
  [
    "float8[] (10)",
    "float8[]",
    "array[random(), random(), random(), random(), random(), random(), random(), random(), random(), random()]"
  ],
  ["text[] (5)", "text[]", "array['a' || i, 'b c', 'd\"e', null, 'fgh']"],
  ["timestamptz[] (5)", "timestamptz[]", "array_fill(timestamptz '2000-01-01' + i * interval '1 s', array[5])"]
]

interface Sample {
  readonly oid: number
  readonly buffer: Buffer
  readonly textSpans: Array<readonly [number, number]>
  readonly binarySpans: Array<readonly [number, number]>
}

const N = 2000

const load = async (client: pg.Client, type: string, expr: string): Promise<Sample> => {
  const send = (await client.query<{ send: string; oid: string }>({
    text: "select typsend::text as send, oid from pg_type where oid = $1::regtype",
    values: [type],
    types: raw
  })).rows[0]!
  const rows = (await client.query<{ t: string; b: string }>({
    text:
      `select v as t, encode(${send.send}(v), 'hex') as b from (select (${expr})::${type} as v from generate_series(1, ${N}) i) s`,
    types: raw
  })).rows
  const parts: Array<Buffer> = []
  const textSpans: Array<readonly [number, number]> = []
  const binarySpans: Array<readonly [number, number]> = []
  let at = 0
  for (const row of rows) {
    const t = Buffer.from(row.t, "utf8")
    const b = Buffer.from(row.b, "hex")
    parts.push(t, b)
    textSpans.push([at, at + t.length])
    at += t.length
    binarySpans.push([at, at + b.length])
    at += b.length
  }
  return { oid: Number(send.oid), buffer: Buffer.concat(parts), textSpans, binarySpans }
}

let sink: unknown
const time = (run: () => void): number => {
  const start = process.hrtime.bigint()
  run()
  return Number(process.hrtime.bigint() - start)
}

const measure = (sample: Sample, registry: PgTypes.TypeRegistry) => {
  const text = registry.textDecoder(sample.oid)
  const binary = registry.binaryDecoder(sample.oid)
  const { binarySpans, buffer, textSpans } = sample
  const textRun = () => {
    for (let r = 0; r < 10; r++) {
      for (const [s, e] of textSpans) sink = text(buffer.toString("utf8", s, e))
    }
  }
  const binaryRun = () => {
    for (let r = 0; r < 10; r++) {
      for (const [s, e] of binarySpans) sink = binary(buffer.subarray(s, e))
    }
  }
  for (let w = 0; w < 5; w++) {
    textRun()
    binaryRun()
  }
  const t: Array<number> = []
  const b: Array<number> = []
  for (let round = 0; round < 15; round++) {
    t.push(time(textRun) / (10 * N))
    b.push(time(binaryRun) / (10 * N))
  }
  const fastest = (xs: Array<number>) => Math.min(...xs)
  const bytes = (spans: Array<readonly [number, number]>) => spans.reduce((n, [s, e]) => n + e - s, 0) / spans.length
  return { text: fastest(t), binary: fastest(b), textBytes: bytes(textSpans), binaryBytes: bytes(binarySpans) }
}

const main = async () => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  await client.query("set timezone = 'UTC'")
  const registry = PgTypes.defaultRegistry
  console.log(
    `node ${process.version}, ${N} values per type, ns per value (fastest of 15 rounds), bytes per value on the wire`
  )
  console.log("| type | text ns | binary ns | text B | binary B | requested |")
  console.log("| --- | ---: | ---: | ---: | ---: | --- |")
  for (const [label, type, expr] of workloads) {
    const sample = await load(client, type, expr)
    const m = measure(sample, registry)
    const format = registry.resultFormat(sample.oid) === 1 ? "binary" : "text"
    console.log(
      `| ${label} | ${m.text.toFixed(0)} | ${m.binary.toFixed(0)} | ${m.textBytes.toFixed(1)} | ${
        m.binaryBytes.toFixed(1)
      } | ${format} |`
    )
  }
  await client.end()
  void sink
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
