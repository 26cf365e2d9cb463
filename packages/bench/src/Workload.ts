/**
 * The six workloads, their sizes (full and `--quick`) and the tables they need.
 *
 * @since 0.1.0
 */
import type pg from "pg"
import type { Params, WorkloadId } from "./Contender.js"

/**
 * One case of a workload; E has two (uncontended, contended), the others one (`default`).
 *
 * @since 0.1.0
 */
export interface Case {
  readonly name: string
  readonly params?: Partial<Params>
}

/**
 * How long a round runs and how large it is.
 *
 * @since 0.1.0
 */
export interface Size {
  readonly durationMs: number
  readonly warmupMs: number
  readonly params: Params
}

/**
 * A workload definition.
 *
 * @since 0.1.0
 */
export interface Workload {
  readonly id: WorkloadId
  readonly title: string
  /** What one op is, e.g. "query" (throughput is ops per second). */
  readonly op: string
  /** `duration`: run for a time and count ops; `rows`: move a fixed number of rows and time it. */
  readonly measure: "duration" | "rows"
  /** The contender other contenders are compared to, unless `--baseline` says otherwise. */
  readonly baseline: string
  readonly cases: ReadonlyArray<Case>
  readonly full: Size
  readonly quick: Size
  /** Creates the workload's tables in the scratch database (once per run). */
  readonly prepare: (client: pg.Client, params: Params) => Promise<void>
  /** What the report says about the workload, in one paragraph. */
  readonly about: string
}

const base: Params = { connections: 10, concurrency: 64, rows: 0, warmupRows: 0, accounts: 0 }

const nothing = (): Promise<void> => Promise.resolve()

/**
 * The initial balance of every account in workload D.
 *
 * @since 0.1.0
 */
export const initialBalance = 1000

/**
 * The columns of workload B's rows: int4, int8, text, numeric, timestamptz, bool, float8,
 * jsonb.
 *
 * @since 0.1.0
 */
export const streamQuery = "select id, big, name, amount, created, flag, ratio, doc from bench_rows"

/**
 * The target table of workload C.
 *
 * @since 0.1.0
 */
export const copyTable = "bench_copy"

/**
 * Workload C's rows in COPY text format, `count` rows from `from` (deterministic).
 *
 * @since 0.1.0
 */
export const copyText = function*(count: number, chunkRows = 2000): Generator<string> {
  let chunk = ""
  for (let i = 1; i <= count; i++) {
    chunk += `${i}\tname-${i}\t${(i % 100000) / 100}\t2026-01-01 00:00:${String(i % 60).padStart(2, "0")}+00\t${
      i % 2 === 0 ? "t" : "f"
    }\n`
    if (i % chunkRows === 0) {
      yield chunk
      chunk = ""
    }
  }
  if (chunk !== "") yield chunk
}

/**
 * Every workload by id.
 *
 * @since 0.1.0
 */
export const all: Readonly<Record<WorkloadId, Workload>> = {
  A: {
    id: "A",
    title: "A: select $1::int, 64 concurrent tasks over 10 connections",
    op: "query",
    measure: "duration",
    baseline: "pg",
    cases: [{ name: "default" }],
    full: { durationMs: 2000, warmupMs: 500, params: base },
    quick: { durationMs: 400, warmupMs: 150, params: base },
    prepare: nothing,
    about: "Round-trip cost of a tiny parameterised statement: 64 concurrent tasks share a pool of 10 " +
      "connections, each task runs `select $1::int` in a loop. Exclusive modes hold a connection per " +
      "statement; pipelined modes send statements from many tasks on one connection without waiting."
  },
  B: {
    id: "B",
    title: "B: stream rows of mixed types",
    op: "row",
    measure: "rows",
    baseline: "pg",
    cases: [{ name: "default" }],
    full: { durationMs: 0, warmupMs: 0, params: { ...base, rows: 1_000_000, warmupRows: 50_000 } },
    quick: { durationMs: 0, warmupMs: 0, params: { ...base, rows: 20_000, warmupRows: 2_000 } },
    prepare: async (client, params) => {
      await client.query(`
        create table bench_rows as
        select i as id, i::int8 * 1000003 as big, 'name-' || i as name, (i % 100000)::numeric / 100 as amount,
               timestamptz '2026-01-01' + i * interval '1 second' as created, i % 2 = 0 as flag,
               i::float8 / 7 as ratio, jsonb_build_object('i', i, 'tag', 'x') as doc
        from generate_series(1, ${Math.max(params.rows, params.warmupRows)}) as i`)
      await client.query("analyze bench_rows")
    },
    about: "Reading a large result through each client's streaming/cursor API, decoding every column " +
      "(int4, int8, text, numeric, timestamptz, bool, float8, jsonb). One connection; time to read all rows."
  },
  C: {
    id: "C",
    title: "C: COPY FROM STDIN",
    op: "row",
    measure: "rows",
    baseline: "pg",
    cases: [{ name: "default" }],
    full: { durationMs: 0, warmupMs: 0, params: { ...base, rows: 1_000_000, warmupRows: 50_000 } },
    quick: { durationMs: 0, warmupMs: 0, params: { ...base, rows: 20_000, warmupRows: 2_000 } },
    prepare: async (client) => {
      await client.query(
        `create table ${copyTable} (id int4, name text, amount numeric(12, 2), created timestamptz, flag bool)`
      )
    },
    about: "Bulk load through COPY FROM STDIN in text format (int4, text, numeric, timestamptz, bool). The " +
      "rows are generated as COPY text before the timer starts, so the table measures the transport and " +
      "the server, not string building. The table is truncated before every phase."
  },
  D: {
    id: "D",
    title: "D: serializable bank transfers with retries",
    op: "committed tx",
    measure: "duration",
    baseline: "pg",
    cases: [{ name: "default" }],
    full: { durationMs: 2000, warmupMs: 500, params: { ...base, concurrency: 10, accounts: 1000 } },
    quick: { durationMs: 400, warmupMs: 150, params: { ...base, concurrency: 10, accounts: 1000 } },
    prepare: async (client, params) => {
      await client.query("create table bench_accounts (id int4 primary key, balance int8 not null)")
      await client.query(
        `insert into bench_accounts select i, ${initialBalance} from generate_series(1, ${params.accounts}) as i`
      )
    },
    about: "10 workers on 10 connections move a random amount between two random accounts in a " +
      "SERIALIZABLE transaction (two UPDATEs); a transaction that fails with 40001 or 40P01 is re-run from " +
      "BEGIN. Throughput counts committed transactions; `retries` counts re-runs. After the round the " +
      "total balance must be unchanged."
  },
  E: {
    id: "E",
    title: "E: pool acquire/release cycle",
    op: "cycle",
    measure: "duration",
    baseline: "semaphore",
    cases: [{ name: "uncontended", params: { concurrency: 1 } }, { name: "contended", params: { concurrency: 64 } }],
    full: { durationMs: 1000, warmupMs: 300, params: base },
    quick: { durationMs: 300, warmupMs: 100, params: base },
    prepare: nothing,
    about: "The cost of the pool itself: acquire a connection and release it without running a statement, " +
      "with 1 task (uncontended) or 64 tasks (contended) over 10 connections. The baseline is a bare " +
      "Effect `Semaphore` with 10 permits, the floor for any Effect pool."
  },
  F: {
    id: "F",
    title: "F: connect + authenticate + first query",
    op: "connection",
    measure: "duration",
    baseline: "pg",
    cases: [{ name: "default" }],
    full: { durationMs: 1500, warmupMs: 300, params: { ...base, concurrency: 1 } },
    quick: { durationMs: 300, warmupMs: 100, params: { ...base, concurrency: 1 } },
    prepare: nothing,
    about: "Opening a connection as a role with a SCRAM-SHA-256 password, running `select 1`, closing. One " +
      "at a time, so this is the latency of a cold connection (the report says whether the server " +
      "really asked for SCRAM: a `trust` line in pg_hba.conf skips authentication)."
  }
}

/**
 * Parses a workload list: `A`, `a,c`, `all`.
 *
 * @example
 * ```ts
 * import { Workload } from "@berth/bench"
 *
 * Workload.parse("a,C") // ["A", "C"]
 * ```
 *
 * @since 0.1.0
 */
export const parse = (text: string): ReadonlyArray<WorkloadId> => {
  if (text.toLowerCase() === "all") return ["A", "B", "C", "D", "E", "F"]
  const ids = text.split(",").map((s) => s.trim().toUpperCase()).filter((s) => s !== "")
  for (const id of ids) {
    if (!(id in all)) throw new Error(`unknown workload "${id}" (expected A, B, C, D, E, F or all)`)
  }
  if (ids.length === 0) throw new Error("no workload given (expected A, B, C, D, E, F or all)")
  return ids as ReadonlyArray<WorkloadId>
}
