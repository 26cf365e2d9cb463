/**
 * Several statements in one write and one round trip. From the core's point of view a batch is
 * one op: it is active until its last ReadyForQuery, so no other statement is on the wire with
 * it and an interrupted batch is cancelled under the usual guarantee (the cancel can only hit a
 * statement of this batch).
 *
 * - atomic: one Sync at the end, so the statements share one implicit transaction (or the open
 *   transaction block); the first error skips the rest and fails the batch.
 * - settled: a Sync after every statement, so each is its own implicit transaction and an error
 *   is confined to its statement; every statement gets its own outcome.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { QueryResult } from "../PgConnection.js"
import type { PgError } from "../PgError.js"
import type { TypeRegistry } from "../PgTypes.js"
import { type OpHost, type Plan, QueryOp } from "./query.js"

/** A statement that produced no result; fresh each time, as callers own their results. */
const emptyResult = (): QueryResult => ({ rows: [], fields: [], command: "", rowCount: undefined })

export class BatchOp extends QueryOp {
  private readonly outcomes: Array<Either.Either<QueryResult, PgError>> = []
  private taken = 0

  constructor(
    plan: Plan,
    sql: string,
    readonly count: number,
    readonly atomic: boolean,
    registry: TypeRegistry,
    resume: (effect: Effect.Effect<unknown, PgError>) => void,
    host: OpHost
  ) {
    super(plan, sql, false, false, registry, resume, host)
  }

  override readyForQuery(): boolean {
    if (this.atomic) return true
    // the end of one statement's Sync group
    const results = this.allResults
    const failure = this.error ?? this.decodeError
    if (failure !== undefined) {
      this.outcomes.push(Either.left(failure))
    } else {
      this.outcomes.push(Either.right(results[this.taken] ?? emptyResult()))
    }
    this.taken = results.length
    this.error = undefined
    this.decodeError = undefined
    return this.outcomes.length >= this.count
  }

  override finish(failure?: PgError): void {
    if (this.state === "done") return
    this.state = "done"
    if (this.abandoned) return
    if (failure !== undefined) return this.resume(Effect.fail(failure))
    if (!this.atomic) return this.resume(Effect.succeed(this.outcomes))
    const error = this.error ?? this.decodeError
    this.resume(error !== undefined ? Effect.fail(error) : Effect.succeed(this.allResults))
  }
}
