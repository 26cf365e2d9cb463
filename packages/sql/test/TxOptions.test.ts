import * as TestDatabase from "@berth/testing/TestDatabase"
import { Duration, Either } from "effect"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as TxOptions from "../src/TxOptions.js"

describe("TxOptions.statements", () => {
  it("renders BEGIN with its modes and SET LOCAL per timeout", () => {
    expect(TxOptions.statements({})).toEqual(Either.right(["BEGIN"]))
    expect(
      TxOptions.statements({
        isolation: "serializable",
        readOnly: true,
        deferrable: true,
        statementTimeout: "1.5 seconds",
        lockTimeout: 0,
        idleInTransactionSessionTimeout: "1 minute"
      })
    ).toEqual(Either.right([
      "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE",
      "SET LOCAL statement_timeout = 1500",
      "SET LOCAL lock_timeout = 0",
      "SET LOCAL idle_in_transaction_session_timeout = 60000"
    ]))
  })

  it("rejects nonsense with a typed error naming the option", () => {
    const deferrable = TxOptions.statements({ isolation: "repeatable read", deferrable: true })
    expect(Either.isLeft(deferrable) && deferrable.left.option).toBe("deferrable")
    const infinite = TxOptions.statements({ lockTimeout: Duration.infinity })
    expect(Either.isLeft(infinite) && infinite.left).toMatchObject({ _tag: "TxOptionsError", option: "lockTimeout" })
    const negative = TxOptions.statements({ statementTimeout: -5 })
    expect(Either.isLeft(negative) && negative.left.option).toBe("statementTimeout")
    const isolation = TxOptions.statements({ isolation: "chaos" as TxOptions.IsolationLevel })
    expect(Either.isLeft(isolation) && isolation.left.option).toBe("isolation")
  })
})

describe("TxOptions against PostgreSQL", () => {
  const client = new pg.Client({ connectionString: TestDatabase.current().url })
  beforeAll(() => client.connect())
  afterAll(() => client.end())

  const setting = async (name: string) =>
    (await client.query<{ v: string }>(`select current_setting('${name}') as v`)).rows[0]!.v

  it.each(
    [
      [{ isolation: "read committed" as const }, "read committed", "off"],
      [{ isolation: "repeatable read" as const, readOnly: true }, "repeatable read", "on"],
      [{ isolation: "serializable" as const, readOnly: true, deferrable: true }, "serializable", "on"]
    ] as const
  )("%o opens the transaction PostgreSQL reports", async (options, isolation, readOnly) => {
    const statements = Either.getOrThrow(TxOptions.statements({ ...options, lockTimeout: "250 millis" }))
    for (const statement of statements) await client.query(statement)
    expect(await setting("transaction_isolation")).toBe(isolation)
    expect(await setting("transaction_read_only")).toBe(readOnly)
    expect(await setting("transaction_deferrable")).toBe("deferrable" in options ? "on" : "off")
    expect(await setting("lock_timeout")).toBe("250ms")
    await client.query("COMMIT")
    // SET LOCAL ends with the transaction: the session is as it was.
    expect(await setting("lock_timeout")).toBe("0")
  })
})
