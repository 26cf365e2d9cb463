import { describe, expect, it } from "@effect/vitest"
import { FastCheck } from "effect"
import { serializableUrl, transfer } from "../src/internal/bank.js"
import { isRetryable } from "../src/internal/drive.js"

describe("workload D helpers", () => {
  it("a transfer touches two distinct accounts in id order and moves no money in or out", () => {
    FastCheck.assert(FastCheck.property(FastCheck.integer({ min: 2, max: 5000 }), (accounts) => {
      const t = transfer(accounts)
      expect(t.first).toBeLessThan(t.second)
      expect(t.first).toBeGreaterThanOrEqual(1)
      expect(t.second).toBeLessThanOrEqual(accounts)
      expect(t.firstDelta + t.secondDelta).toBe(0)
      expect(Math.abs(t.firstDelta)).toBeGreaterThanOrEqual(1)
      expect(Math.abs(t.firstDelta)).toBeLessThanOrEqual(100)
    }))
  })

  it("serializableUrl sets the session default through the startup options", () => {
    const url = new URL(serializableUrl("postgres://u:p@h:5/db?application_name=x"))
    expect(url.searchParams.get("options")).toBe("-c default_transaction_isolation=serializable")
    expect(url.searchParams.get("application_name")).toBe("x")
  })

  it("isRetryable finds 40001/40P01 wherever each client puts them", () => {
    expect(isRetryable({ code: "40001" })).toBe(true)
    // @effect/sql 0.52: SqlError { cause: DatabaseError { code } }
    expect(isRetryable({ _tag: "SqlError", cause: { code: "40P01" } })).toBe(true)
    // @effect/sql-pg 4: SqlError { reason: SerializationError }
    expect(isRetryable({ _tag: "SqlError", reason: { _tag: "SerializationError" } })).toBe(true)
    expect(isRetryable({ _tag: "SqlError", cause: { code: "23505" } })).toBe(false)
    expect(isRetryable(new Error("40001"))).toBe(false)
    expect(isRetryable(undefined)).toBe(false)
  })
})
