/**
 * Parse + Describe of an explicitly prepared statement: resolves with its result columns and
 * parameter types.
 */
import * as Effect from "effect/Effect"
import type { Field } from "../PgConnection.js"
import type { PgError } from "../PgError.js"
import type { TypeRegistry } from "../PgTypes.js"
import { type OpHost, QueryOp } from "./query.js"

export interface Description {
  readonly fields: ReadonlyArray<Field>
  readonly paramOids: ReadonlyArray<number>
}

export class PrepareOp extends QueryOp {
  constructor(
    payload: Buffer,
    sql: string,
    registry: TypeRegistry,
    resume: (effect: Effect.Effect<unknown, PgError>) => void,
    host: OpHost
  ) {
    super({ _tag: "Fixed", payload }, sql, false, false, registry, resume, host)
  }

  override finish(failure?: PgError): void {
    if (this.state === "done") return
    this.state = "done"
    if (this.abandoned) return
    const error = failure ?? this.error
    if (error !== undefined) return this.resume(Effect.fail(error))
    const description: Description = { fields: this.fields, paramOids: this.paramOids }
    this.resume(Effect.succeed(description))
  }
}
