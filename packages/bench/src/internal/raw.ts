/**
 * The JavaScript limit for workload A: statements pre-encoded once, many in flight per
 * connection, and nothing decoded except the type byte of each reply. It counts ReadyForQuery
 * messages and checks that it got exactly one per Sync it sent and no ErrorResponse, so a
 * fast-but-wrong run can never be reported.
 */
import * as Wire from "./wire.js"

/** What a pipelined run saw. */
export interface Counts {
  readonly syncs: number
  readonly readyForQuery: number
  readonly errors: ReadonlyArray<string>
}

/** A limit client's run that did not do the work it claims. */
export class CheckFailed extends Error {
  override readonly name = "CheckFailed"
}

/**
 * Throws {@link CheckFailed} unless every Sync got its ReadyForQuery and no ErrorResponse
 * arrived.
 */
export const verify = (counts: Counts): void => {
  if (counts.errors.length > 0) {
    throw new CheckFailed(
      `the limit client got ${counts.errors.length} ErrorResponse(s), first: ${counts.errors[0]}`
    )
  }
  if (counts.readyForQuery !== counts.syncs) {
    throw new CheckFailed(`the limit client sent ${counts.syncs} Syncs but got ${counts.readyForQuery} ReadyForQuery`)
  }
}

/** Prepares `sql` as the named statement `name` on `conn` (Parse + Sync), failing on an error. */
export const prepare = (conn: Wire.Connection, name: string, sql: string): Promise<void> =>
  new Promise((resolve, reject) => {
    let error: string | undefined
    conn.onMessage((type, buf, start, end) => {
      if (type === Wire.Backend.ErrorResponse) error = Wire.errorText(buf, start, end)
      else if (type === Wire.Backend.ReadyForQuery) {
        if (error === undefined) resolve()
        else reject(new Error(error))
      }
    })
    conn.socket.write(Buffer.concat([Wire.parse(name, sql), Wire.sync]))
  })

/**
 * Keeps `depths[i]` copies of `frame` (one Bind/Execute/Sync) in flight on `conns[i]` until
 * `durationMs` has passed, then waits for every reply. Writes are batched: after each socket
 * read, as many frames are sent as ReadyForQuery arrived in it.
 */
export const pipeline = (
  conns: ReadonlyArray<Wire.Connection>,
  depths: ReadonlyArray<number>,
  frame: Buffer,
  durationMs: number
): Promise<Counts> =>
  new Promise((resolve, reject) => {
    const deadline = Date.now() + durationMs
    let syncs = 0
    let readyForQuery = 0
    const errors: Array<string> = []
    let open = conns.length
    const maxDepth = Math.max(1, ...depths)
    const burst = Buffer.concat(Array.from({ length: maxDepth }, () => frame))
    const finishOne = (): void => {
      open--
      if (open === 0) resolve({ syncs, readyForQuery, errors })
    }
    conns.forEach((conn, index) => {
      const depth = depths[index] ?? 0
      let inFlight = 0
      let arrived = 0
      if (depth === 0) return finishOne()
      conn.socket.once("error", reject)
      conn.onMessage((type, buf, start, end) => {
        if (type === Wire.Backend.ReadyForQuery) {
          readyForQuery++
          arrived++
        } else if (type === Wire.Backend.ErrorResponse && errors.length < 10) {
          errors.push(Wire.errorText(buf, start, end))
        }
      }, () => {
        if (arrived === 0) return
        inFlight -= arrived
        const refill = Date.now() < deadline ? arrived : 0
        arrived = 0
        if (refill > 0) {
          conn.socket.write(burst.subarray(0, refill * frame.length))
          inFlight += refill
          syncs += refill
        } else if (inFlight === 0) finishOne()
      })
      conn.socket.write(burst.subarray(0, depth * frame.length))
      inFlight = depth
      syncs += depth
    })
  })

/** Spreads `tasks` over `connections` as evenly as possible (64 over 10: 7,7,7,7,6,...). */
export const spread = (tasks: number, connections: number): ReadonlyArray<number> =>
  Array.from({ length: connections }, (_, i) => Math.floor(tasks / connections) + (i < tasks % connections ? 1 : 0))
