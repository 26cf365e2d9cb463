import * as TestDatabase from "@berth/testing/TestDatabase"
import { describe, expect, it } from "@effect/vitest"
import { FastCheck } from "effect"
import * as crypto from "node:crypto"
import pg from "pg"
import * as Raw from "../src/internal/raw.js"
import * as Wire from "../src/internal/wire.js"

const db = () => TestDatabase.current()

const openConnections = (n: number) => Promise.all(Array.from({ length: n }, () => Wire.connect(db())))

const frameFor = (statement: string) => Buffer.concat([Wire.bind("", statement, ["1"]), Wire.execute(""), Wire.sync])

describe("raw-socket limit client", () => {
  it("verify accepts one ReadyForQuery per Sync and no ErrorResponse", () => {
    expect(() => Raw.verify({ syncs: 10, readyForQuery: 10, errors: [] })).not.toThrow()
  })

  it("verify rejects a missing ReadyForQuery", () => {
    expect(() => Raw.verify({ syncs: 10, readyForQuery: 9, errors: [] })).toThrow(Raw.CheckFailed)
    expect(() => Raw.verify({ syncs: 10, readyForQuery: 9, errors: [] })).toThrow(/sent 10 Syncs but got 9/)
  })

  it("verify rejects any ErrorResponse even when the counts match", () => {
    expect(() => Raw.verify({ syncs: 3, readyForQuery: 3, errors: ["ERROR 22012: division by zero"] })).toThrow(
      /ErrorResponse.*division by zero/
    )
  })

  it("a pipelined run gets every ReadyForQuery it asked for and passes its check", async () => {
    const conns = await openConnections(3)
    try {
      await Promise.all(conns.map((c) => Raw.prepare(c, "a", "select $1::int as v")))
      const counts = await Raw.pipeline(conns, Raw.spread(8, 3), frameFor("a"), 150)
      expect(counts.errors).toEqual([])
      expect(counts.syncs).toBeGreaterThanOrEqual(8)
      expect(counts.readyForQuery).toBe(counts.syncs)
      expect(() => Raw.verify(counts)).not.toThrow()
    } finally {
      await Promise.all(conns.map((c) => c.close()))
    }
  })

  it("a statement that fails on the server makes the check fail", async () => {
    const conns = await openConnections(2)
    try {
      // $1 is 1, so every execution divides by zero.
      await Promise.all(conns.map((c) => Raw.prepare(c, "bad", "select 1 / ($1::int - 1) as v")))
      const counts = await Raw.pipeline(conns, [3, 2], frameFor("bad"), 50)
      expect(counts.errors.length).toBeGreaterThan(0)
      expect(counts.errors[0]).toContain("22012")
      // The server still answers every Sync: the errors are what the check catches.
      expect(counts.readyForQuery).toBe(counts.syncs)
      expect(() => Raw.verify(counts)).toThrow(Raw.CheckFailed)
    } finally {
      await Promise.all(conns.map((c) => c.close()))
    }
  })

  it("prepare reports a statement the server rejects", async () => {
    const [conn] = await openConnections(1)
    try {
      await expect(Raw.prepare(conn!, "x", "select from nowhere_table_42")).rejects.toThrow(/42P01/)
    } finally {
      await conn!.close()
    }
  })

  it("spread distributes tasks over connections", () => {
    expect(Raw.spread(64, 10)).toEqual([7, 7, 7, 7, 6, 6, 6, 6, 6, 6])
    expect(Raw.spread(3, 5)).toEqual([1, 1, 1, 0, 0])
  })
})

describe("wire", () => {
  it("FrameReader yields the same messages however the bytes are split", () => {
    const messages = [
      Wire.message("Z", Buffer.from("I")),
      Wire.message("D", Buffer.alloc(300, 7)),
      Wire.message("C", Buffer.from("SELECT 1\0")),
      Wire.message("Z", Buffer.from("I"))
    ]
    const stream = Buffer.concat(messages)
    FastCheck.assert(
      FastCheck.property(FastCheck.uniqueArray(FastCheck.integer({ min: 1, max: stream.length - 1 })), (cuts) => {
        const seen: Array<string> = []
        const reader = new Wire.FrameReader((type, buf, start, end) => {
          seen.push(`${String.fromCharCode(type)}:${buf.subarray(start, end).toString("hex")}`)
        })
        let last = 0
        for (const cut of [...cuts].sort((a, b) => a - b)) {
          reader.push(stream.subarray(last, cut))
          last = cut
        }
        reader.push(stream.subarray(last))
        expect(seen).toEqual(messages.map((m) => `${String.fromCharCode(m[0]!)}:${m.subarray(5).toString("hex")}`))
      })
    )
  })

  it("authenticates a password role (SCRAM-SHA-256 where the server asks for it) and rejects a wrong password", async () => {
    const role = `bench_test_${crypto.randomBytes(4).toString("hex")}`
    const admin = new pg.Client({ connectionString: db().url })
    await admin.connect()
    try {
      await admin.query("set password_encryption = 'scram-sha-256'")
      await admin.query(`create role ${role} login password 'right-password'`)
      const conn = await Wire.connect({ ...db(), user: role, password: "right-password" })
      await conn.close()
      if (db().server.source === "embedded") {
        // The embedded server's pg_hba.conf asks every TCP client for SCRAM.
        expect(conn.auth).toBe("scram-sha-256")
      }
      if (conn.auth === "scram-sha-256") {
        await expect(Wire.connect({ ...db(), user: role, password: "wrong-password" })).rejects.toThrow(/28P01/)
      }
    } finally {
      await admin.query(`drop role if exists ${role}`)
      await admin.end()
    }
  })

  it("connect is bounded by its timeout", async () => {
    // A listening socket that never answers the startup packet.
    const net = await import("node:net")
    const server = net.createServer(() => {})
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const port = (server.address() as { port: number }).port
    try {
      await expect(Wire.connect({ host: "127.0.0.1", port, user: "u", password: "", database: "d" }, 300)).rejects
        .toThrow(/timed out/)
    } finally {
      server.close()
    }
  })
})
