import type { Contender } from "../../Contender.js"
import * as Raw from "../../internal/raw.js"
import * as Wire from "../../internal/wire.js"

/** Opens the limit client: `connections` sockets with `select $1::int` prepared once on each. */
export const openRaw = async (
  ctx: Parameters<Contender["open"]>[0],
  depths: ReadonlyArray<number>
) => {
  const conns = await Promise.all(Array.from({ length: ctx.params.connections }, () => Wire.connect(ctx)))
  await Promise.all(conns.map((c) => Raw.prepare(c, "a", "select $1::int as v")))
  const frame = Buffer.concat([Wire.bind("", "a", ["1"]), Wire.execute(""), Wire.sync])
  return {
    run: async (phase: { readonly durationMs: number }) => {
      const counts = await Raw.pipeline(conns, depths, frame, phase.durationMs)
      Raw.verify(counts)
      return { ops: counts.readyForQuery }
    },
    close: async () => {
      await Promise.all(conns.map((c) => c.close()))
    }
  }
}

const contender: Contender = {
  description: "JavaScript limit: raw socket, pre-encoded Bind/Execute/Sync, 64 in flight over 10 connections",
  kind: "limit",
  open: (ctx) => openRaw(ctx, Raw.spread(ctx.params.concurrency, ctx.params.connections))
}

export default contender
