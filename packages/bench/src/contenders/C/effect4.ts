import type { Contender } from "../../Contender.js"
import { Unavailable } from "../../Contender.js"

const contender: Contender = {
  description: "@effect/sql-pg 4.x on Effect 4",
  kind: "client",
  // Checked against @effect/sql-pg 4.0.5: its protocol client rejects COPY responses.
  unavailable: () => Promise.resolve("@effect/sql-pg 4.x has no COPY FROM API"),
  open: () => Promise.reject(new Unavailable("no COPY FROM API"))
}

export default contender
