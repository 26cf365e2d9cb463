import type { Contender } from "../../Contender.js"
import { checker } from "../../internal/bank.js"
import { runPgbench } from "../A/pgbench.js"

// The same transfer as the other contenders: two distinct accounts, updated in id order.
const script = (accounts: number): string =>
  [
    `\\set from random(1, ${accounts})`,
    `\\set to random(1, ${accounts - 1})`,
    "\\set to :to + case when :to >= :from then 1 else 0 end",
    "\\set amount random(1, 100)",
    "\\set first least(:from, :to)",
    "\\set second greatest(:from, :to)",
    "\\set delta case when :first = :from then -:amount else :amount end",
    "BEGIN;",
    "update bench_accounts set balance = balance + :delta where id = :first;",
    "update bench_accounts set balance = balance - :delta where id = :second;",
    "END;",
    ""
  ].join("\n")

const contender: Contender = {
  description: "server limit: pgbench -M prepared, 10 clients, --max-tries 1000 (retries 40001/40P01)",
  kind: "limit",
  open: async (ctx) => {
    const check = await checker(ctx)
    process.env["PGOPTIONS"] = "-c default_transaction_isolation=serializable"
    return {
      reset: check.reset,
      run: (phase) =>
        runPgbench(ctx.url, script(ctx.params.accounts), phase.durationMs, ctx.params.concurrency, 1, [
          "--max-tries",
          "1000"
        ]),
      close: check.close
    }
  }
}

export default contender
