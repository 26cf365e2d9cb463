/**
 * Shared pieces of workload C: the COPY payload (built before the timer starts), the truncate
 * before each phase, and the row count check after it.
 */
import pg from "pg"
import type { Context, Phase } from "../Contender.js"
import { copyTable, copyText } from "../Workload.js"

/** The payload of every phase size, as COPY text chunks of 2000 rows. */
export const payloads = (ctx: Context): Map<number, ReadonlyArray<Buffer>> =>
  new Map(
    [ctx.params.rows, ctx.params.warmupRows].map((n) => [n, Array.from(copyText(n), (s) => Buffer.from(s))] as const)
  )

/** The chunks for `phase`. */
export const chunksFor = (payload: Map<number, ReadonlyArray<Buffer>>, phase: Phase): ReadonlyArray<Buffer> => {
  const chunks = payload.get(phase.rows)
  if (chunks === undefined) throw new Error(`no COPY payload prepared for ${phase.rows} rows`)
  return chunks
}

/** A side connection that truncates the table before a phase and counts its rows after. */
export const checker = async (ctx: Context) => {
  const client = new pg.Client({ connectionString: ctx.url })
  await client.connect()
  let expected = 0
  return {
    reset: async (phase: Phase) => {
      await client.query(`truncate ${copyTable}`)
      expected = phase.rows
    },
    /** Checks that the last phase's rows all arrived, then closes the side connection. */
    close: async () => {
      try {
        const r = await client.query<{ n: string }>(`select count(*) as n from ${copyTable}`)
        const n = Number(r.rows[0]?.n)
        if (n !== expected) throw new Error(`COPY left ${n} rows in ${copyTable}, expected ${expected}`)
      } finally {
        await client.end()
      }
    }
  }
}
