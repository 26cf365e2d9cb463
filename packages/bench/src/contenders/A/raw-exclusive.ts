import type { Contender } from "../../Contender.js"
import { openRaw } from "./raw.js"

const contender: Contender = {
  description: "JavaScript limit, exclusive: raw socket, pre-encoded Bind/Execute/Sync, one in flight per connection",
  kind: "limit",
  open: (ctx) => openRaw(ctx, Array.from({ length: ctx.params.connections }, () => 1))
}

export default contender
