import type { Contender } from "../../Contender.js"
import { Unavailable } from "../../Contender.js"
import { version } from "../../internal/versions.js"

const contender: Contender = {
  description: `@effect/sql-pg ${version("@effect/sql-pg")} on effect ${version("effect")}`,
  kind: "client",
  unavailable: () => Promise.resolve(`@effect/sql-pg ${version("@effect/sql-pg")} has no COPY FROM API`),
  open: () => Promise.reject(new Unavailable("no COPY FROM API"))
}

export default contender
