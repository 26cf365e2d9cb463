/**
 * Shared pieces of workload D: the SERIALIZABLE session setting, the transfer plan, the
 * balance reset before each phase and the invariant check after it.
 */
import pg from "pg"
import type { Context } from "../Contender.js"
import { initialBalance } from "../Workload.js"

/** The update every contender runs twice per transfer. */
export const updateSql = "update bench_accounts set balance = balance + $2 where id = $1"

/**
 * `url` with `options=-c default_transaction_isolation=serializable`, so a plain `BEGIN`
 * (which is all some clients can send) starts a SERIALIZABLE transaction and every
 * contender pays the same round trips.
 */
export const serializableUrl = (url: string): string => {
  const u = new URL(url)
  u.searchParams.set("options", "-c default_transaction_isolation=serializable")
  return u.toString()
}

/**
 * A transfer between two distinct random accounts, as two updates in account-id order:
 * a fixed lock order means conflicts surface as serialization failures (40001) at once rather
 * than as deadlocks (40P01) found only after `deadlock_timeout`. Both are retried.
 */
export interface Transfer {
  readonly first: number
  readonly firstDelta: number
  readonly second: number
  readonly secondDelta: number
}

/** A random transfer among `accounts` accounts. */
export const transfer = (accounts: number): Transfer => {
  const from = 1 + Math.floor(Math.random() * accounts)
  let to = 1 + Math.floor(Math.random() * (accounts - 1))
  if (to >= from) to++
  const amount = 1 + Math.floor(Math.random() * 100)
  return from < to
    ? { first: from, firstDelta: -amount, second: to, secondDelta: amount }
    : { first: to, firstDelta: amount, second: from, secondDelta: -amount }
}

/** Resets balances before a phase and checks the total after the last one. */
export const checker = async (ctx: Context) => {
  const client = new pg.Client({ connectionString: ctx.url })
  await client.connect()
  return {
    reset: async () => {
      await client.query(`update bench_accounts set balance = ${initialBalance}`)
    },
    close: async () => {
      try {
        const r = await client.query<{ total: string; n: string }>(
          "select sum(balance) as total, count(*) as n from bench_accounts"
        )
        const total = Number(r.rows[0]?.total)
        const expected = Number(r.rows[0]?.n) * initialBalance
        if (total !== expected) throw new Error(`total balance is ${total} after the transfers, expected ${expected}`)
      } finally {
        await client.end()
      }
    }
  }
}

/** Throws unless a session of `url` runs SERIALIZABLE transactions by default. */
export const assertSerializable = (level: unknown): void => {
  if (level !== "serializable") throw new Error(`transactions are not SERIALIZABLE (got ${String(level)})`)
}
