/**
 * The contract between the benchmark runner and one contender: a client library (or a limit,
 * or a baseline) running one workload. A contender is one file,
 * `src/contenders/<workload>/<name>.ts`, whose default export is a {@link Contender}. The
 * runner starts a fresh child process per round, calls {@link Contender.open} (untimed), runs
 * a warm-up phase, then the measured phase, then {@link Session.close}.
 *
 * @since 0.1.0
 */

/**
 * The workloads, see `Workload.ts`.
 *
 * @since 0.1.0
 */
export type WorkloadId = "A" | "B" | "C" | "D" | "E" | "F"

/**
 * What a contender stands for in the report.
 *
 * - `client`: a library a user would pick (Berth or a peer);
 * - `limit`: the JavaScript limit (raw socket) or the server limit (`pgbench`);
 * - `baseline`: a floor that is not a database client at all (a bare semaphore).
 *
 * @since 0.1.0
 */
export type Kind = "client" | "limit" | "baseline"

/**
 * Where and what to run. Every size comes from the workload's parameters so that all
 * contenders of one run do the same work.
 *
 * @since 0.1.0
 */
export interface Context {
  readonly workload: WorkloadId
  /** The workload case, e.g. `"uncontended"` or `"contended"` for E; `"default"` otherwise. */
  readonly case: string
  /** A superuser-ish URL of the scratch database the runner prepared. */
  readonly url: string
  /** The same database, reached as a role that authenticates with a SCRAM password (workload F). */
  readonly scramUrl: string
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string
  readonly database: string
  /** Workload sizes (see `Workload.Params`). */
  readonly params: Params
  /** The folder with the isolated Effect 4 install (`node_modules` inside). */
  readonly peersDir: string
  /** The folder this package lives in (for scripts and fixtures). */
  readonly packageDir: string
}

/**
 * Sizes of a workload. Every field is set for every workload; a workload ignores the ones it
 * does not use.
 *
 * @since 0.1.0
 */
export interface Params {
  /** Connections a pooled contender opens. */
  readonly connections: number
  /** Concurrent fibers/tasks issuing work. */
  readonly concurrency: number
  /** Rows streamed (B) or copied (C) in the measured phase. */
  readonly rows: number
  /** Rows used by the warm-up phase of B and C. */
  readonly warmupRows: number
  /** Accounts in the bank of workload D. */
  readonly accounts: number
}

/**
 * One phase of a round: the warm-up (not reported) or the measured run. Duration-based
 * workloads (A, D, E, F) run until `durationMs` has passed; size-based ones (B, C) move
 * `rows` rows.
 *
 * @since 0.1.0
 */
export interface Phase {
  readonly kind: "warmup" | "measure"
  readonly durationMs: number
  readonly rows: number
}

/**
 * What a phase did. `ops` is the unit of the workload's throughput (queries, rows,
 * committed transactions, acquire/release cycles, connections). A contender that measures
 * itself more exactly than the runner's wall clock (e.g. `pgbench`, which excludes its own
 * process start) sets `elapsedMs`; one whose work happens in another process sets `cpuMs`.
 *
 * @since 0.1.0
 */
export interface Outcome {
  readonly ops: number
  readonly elapsedMs?: number
  readonly cpuMs?: number
  /**
   * The work ran in another process (pgbench): the child's peak RSS says nothing about it and
   * is left out of the report.
   */
  readonly external?: boolean
  /** Extra counts worth reporting, e.g. `{ retries: 12 }` for D. */
  readonly counters?: Readonly<Record<string, number>>
}

/**
 * An opened contender: connections made, statements prepared, ready to run phases.
 *
 * @since 0.1.0
 */
export interface Session {
  /** Replaces the contender's description once it knows more (e.g. the loaded peer versions). */
  readonly description?: string
  /** Untimed preparation before each phase (truncate a table, reset balances). */
  readonly reset?: (phase: Phase) => Promise<void>
  readonly run: (phase: Phase) => Promise<Outcome>
  /** Releases everything and checks invariants (e.g. D's total balance); throws if one broke. */
  readonly close: () => Promise<void>
}

/**
 * A contender: the default export of `src/contenders/<workload>/<name>.ts`.
 *
 * @example
 * ```ts
 * import type { Contender } from "@berth/bench"
 * import pg from "pg"
 *
 * const contender: Contender.Contender = {
 *   description: "pg 8 Pool",
 *   kind: "client",
 *   open: async (ctx) => {
 *     const pool = new pg.Pool({ connectionString: ctx.url, max: ctx.params.connections })
 *     return {
 *       run: async (phase) => {
 *         const deadline = Date.now() + phase.durationMs
 *         let ops = 0
 *         while (Date.now() < deadline) {
 *           await pool.query("select 1")
 *           ops++
 *         }
 *         return { ops }
 *       },
 *       close: () => pool.end()
 *     }
 *   }
 * }
 * export default contender
 * ```
 *
 * @since 0.1.0
 */
export interface Contender {
  /** One line for the report: library, version, mode. */
  readonly description: string
  readonly kind: Kind
  /** The cases it can run (default: all of the workload's cases). */
  readonly cases?: ReadonlyArray<string>
  /**
   * Resolves to a reason when the contender cannot run here (a peer that failed to install,
   * a missing binary, a Berth module not written yet); it is then reported as unavailable.
   */
  readonly unavailable?: (ctx: Context) => Promise<string | undefined>
  readonly open: (ctx: Context) => Promise<Session>
}

/**
 * Thrown by `open` when a contender cannot run here; reported as "unavailable", not failed.
 *
 * @example
 * ```ts
 * import { Contender } from "@berth/bench"
 *
 * throw new Contender.Unavailable("pgbench is not installed")
 * ```
 *
 * @since 0.1.0
 */
export class Unavailable extends Error {
  override readonly name = "Unavailable"
}
