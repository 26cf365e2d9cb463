/**
 * Statements of Berth's `SqlClient` that skip two costs of `@effect/sql`'s statement execution
 * when they buy nothing:
 *
 * - `Effect.scoped` around the acquirer: Berth's acquirer is the client's own connection object
 *   (statements find their pool connection or session through `Db`), so the scope is always
 *   empty; making and closing it costs about 10 µs per statement on Effect 3.
 * - the `sql.execute` span, while only Effect's built-in tracer is installed (it records
 *   nothing); with a real tracer every statement gets it as `@effect/sql` makes it, plus
 *   `db.response.status_code` (the SQLSTATE) on failure.
 *
 * Statements take `@effect/sql`'s own path as well when a `Statement.withTransformer` is set or a
 * `TransactionConnection` is pinned (an `@effect/sql` transaction, as migrators run), so every
 * observable behaviour stays `@effect/sql`'s.
 *
 * The class of `@effect/sql`'s statements is internal: it is found from a statement the client
 * built, and its shape is checked; if it ever differs, the client is left as it is.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlConnection from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import { Context, Effect } from "effect"
import * as Retry from "../Retry.js"
import * as Observe from "./observe.js"

type Run<A> = (
  connection: SqlConnection.Connection,
  sql: string,
  params: ReadonlyArray<unknown>
) => Effect.Effect<A, SqlError>

/** What `@effect/sql` 0.5x's statement class has (checked at runtime before it is used). */
interface Primitive {
  readonly segments: ReadonlyArray<Statement.Segment>
  readonly acquirer: unknown
  readonly compiler: Statement.Compiler
  readonly spanAttributes: unknown
  readonly transformRows: unknown
  compile(withoutTransform?: boolean): readonly [string, ReadonlyArray<unknown>]
  withConnection<A>(operation: string, run: Run<A>, withoutTransform?: boolean): Effect.Effect<A, SqlError>
}

type PrimitiveClass = new(
  segments: Primitive["segments"],
  acquirer: Primitive["acquirer"],
  compiler: Primitive["compiler"],
  spanAttributes: Primitive["spanAttributes"],
  transformRows: Primitive["transformRows"]
) => Primitive

const isPrimitive = (u: unknown): u is Primitive =>
  typeof u === "object" && u !== null && Array.isArray((u as Primitive).segments) &&
  "acquirer" in u && "compiler" in u && "spanAttributes" in u && "transformRows" in u &&
  typeof (u as Primitive).withConnection === "function" && typeof (u as Primitive).compile === "function"

const makeClass = (Base: PrimitiveClass, connection: SqlConnection.Connection): PrimitiveClass =>
  class BerthStatement extends Base {
    override withConnection<A>(
      operation: string,
      run: Run<A>,
      withoutTransform = false
    ): Effect.Effect<A, SqlError> {
      return Effect.withFiberRuntime((fiber) => {
        if (
          fiber.getFiberRef(Statement.currentTransformer)._tag === "Some" ||
          Context.getOption(fiber.currentContext, SqlClient.TransactionConnection)._tag === "Some"
        ) {
          return super.withConnection(operation, run, withoutTransform)
        }
        if (!Observe.isRecording(fiber.currentTracer)) {
          const [sql, params] = this.compile(withoutTransform)
          return run(connection, sql, params)
        }
        // @effect/sql's span, plus the SQLSTATE of a failure
        // (suspended: a compile that throws must still end the span, which useSpan only
        // guarantees for the effect its callback returns)
        return Effect.useSpan(
          "sql.execute",
          { kind: "client", captureStackTrace: false },
          (span) =>
            Effect.suspend(() => {
              const [sql, params] = this.compile(withoutTransform)
              for (const [key, value] of this.spanAttributes as ReadonlyArray<readonly [string, unknown]>) {
                span.attribute(key, value)
              }
              span.attribute("db.operation.name", operation)
              span.attribute("db.query.text", sql)
              return Effect.tapError(run(connection, sql, params), (error) =>
                Effect.sync(() => {
                  const code = Retry.sqlState(error)
                  if (code !== undefined) span.attribute("db.response.status_code", code)
                }))
            })
        )
      })
    }
  }

/**
 * `client` with its `sql` tag and `sql.unsafe` making {@link makeClass} statements that run on
 * `connection` (the object its acquirer yields); `client` itself when the statement class is
 * not the one this was written for.
 */
export const install = <C extends SqlClient.SqlClient>(client: C, connection: SqlConnection.Connection): C => {
  const probe: unknown = client.unsafe("select $1", [1])
  if (!isPrimitive(probe)) return client
  const Base = Object.getPrototypeOf(probe).constructor as PrimitiveClass
  const Fast = makeClass(Base, connection)
  if (!rebuildsFaithfully(probe, Fast)) return client
  const rebuild = <A>(statement: A): A =>
    statement instanceof Base
      ? new Fast(
        statement.segments,
        statement.acquirer,
        statement.compiler,
        statement.spanAttributes,
        statement.transformRows
      ) as A
      : statement
  const original = client as unknown as (...args: Array<unknown>) => unknown
  const sql = function(this: unknown, ...args: Array<unknown>) {
    return rebuild(original.apply(this, args))
  }
  const fast = Object.assign(sql, client, {
    unsafe: (text: string, params?: Parameters<C["unsafe"]>[1]) => rebuild(client.unsafe(text, params))
  }) as unknown as C & { safe: C; withoutTransforms: () => C }
  fast.safe = fast
  // @effect/sql builds the client without transforms from a new `sql` tag: wrap that one too
  let withoutTransforms: C | undefined
  fast.withoutTransforms = function(this: C): C {
    if (withoutTransforms !== undefined) return withoutTransforms
    const inner = client.withoutTransforms.call(fast) as C
    if (inner === fast || inner === client) return (withoutTransforms = fast)
    const wrapped = install(inner, connection) as C & { withoutTransforms: () => C }
    wrapped.withoutTransforms = () => wrapped
    return (withoutTransforms = wrapped)
  }
  return fast
}

/**
 * The statement class's constructor is internal too: a statement rebuilt from the probe's fields
 * must have the same fields and compile to the same SQL, or the argument order has changed.
 */
const rebuildsFaithfully = (probe: Primitive, Fast: PrimitiveClass): boolean => {
  try {
    const rebuilt = new Fast(probe.segments, probe.acquirer, probe.compiler, probe.spanAttributes, probe.transformRows)
    const [sql, params] = rebuilt.compile()
    const [probeSql, probeParams] = probe.compile()
    return rebuilt.segments === probe.segments && rebuilt.acquirer === probe.acquirer &&
      rebuilt.compiler === probe.compiler && rebuilt.spanAttributes === probe.spanAttributes &&
      rebuilt.transformRows === probe.transformRows && sql === probeSql &&
      params.length === probeParams.length && params[0] === probeParams[0]
  } catch {
    return false
  }
}
