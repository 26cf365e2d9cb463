/**
 * Loads Effect 4 and `@effect/sql-pg` 4.x from the isolated peers folder. The workspace only
 * type-checks against Effect 3, so the few Effect 4 functions the contenders use are described
 * here structurally, with effects as an opaque type.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { Unavailable } from "../Contender.js"

declare const brand: unique symbol

/** An Effect 4 `Effect<A, unknown, never>`, opaque to this workspace. */
export interface Eff<A> {
  readonly [brand]: A
}

/** An Effect 4 `Stream`. */
export interface Stream4 {
  readonly [brand]: "Stream"
}

/** An Effect 4 `Layer` providing the SQL client. */
export interface Layer4 {
  readonly [brand]: "Layer"
}

/** An Effect 4 closeable `Scope`. */
export interface Scope4 {
  readonly [brand]: "Scope"
}

/** A `Context` key (service tag). */
export interface Key4<S> {
  readonly [brand]: S
}

/** An `@effect/sql` statement: an effect of rows with a `stream` of them. */
export interface Statement4 extends Eff<ReadonlyArray<unknown>> {
  readonly stream: Stream4
}

/** The `SqlClient` surface the contenders use. */
export interface Sql4 {
  (strings: TemplateStringsArray, ...args: ReadonlyArray<unknown>): Statement4
  readonly unsafe: (sql: string, params?: ReadonlyArray<unknown>) => Statement4
  readonly withTransaction: <A>(self: Eff<A>) => Eff<A>
  readonly reserve: Eff<unknown>
}

/** `@effect/sql-pg` 4.x pool (`PgPool.make`). */
export interface Pool4 {
  readonly use: <A>(f: (connection: unknown) => Eff<A>) => Eff<A>
  readonly get: Eff<unknown>
}

/** `@effect/sql-pg` 4.x connection and pool settings (the subset used here). */
export interface Config4 {
  readonly url: unknown
  readonly maxConnections?: number
  readonly minConnections?: number
  readonly multiplex?: boolean
  readonly multiplexConcurrency?: number
}

/** A `ManagedRuntime`. */
export interface Runtime4 {
  readonly runPromise: <A>(self: Eff<A>) => Promise<A>
  readonly dispose: () => Promise<void>
}

/** The loaded modules. */
export interface Effect4 {
  readonly versions: string
  readonly Effect: {
    readonly suspend: <A>(f: () => Eff<A>) => Eff<A>
    readonly flatMap: <A, B>(self: Eff<A>, f: (a: A) => Eff<B>) => Eff<B>
    readonly map: <A, B>(self: Eff<A>, f: (a: A) => B) => Eff<B>
    readonly forEach: <A, B>(
      items: Iterable<A>,
      f: (a: A) => Eff<B>,
      options: { readonly concurrency: number | "unbounded"; readonly discard: true }
    ) => Eff<void>
    readonly whileLoop: <A>(options: {
      readonly while: () => boolean
      readonly body: () => Eff<A>
      readonly step: (a: A) => void
    }) => Eff<void>
    readonly void: Eff<void>
    readonly scoped: <A>(self: Eff<A>) => Eff<A>
    readonly retry: <A>(self: Eff<A>, options: { readonly while: (error: unknown) => boolean }) => Eff<A>
    readonly service: <S>(key: Key4<S>) => Eff<S>
    readonly runPromise: <A>(self: Eff<A>) => Promise<A>
  }
  readonly Scope: {
    readonly make: () => Eff<Scope4>
    readonly provide: <A>(self: Eff<A>, scope: Scope4) => Eff<A>
    readonly close: (scope: Scope4, exit: unknown) => Eff<void>
  }
  readonly Exit: { readonly void: unknown }
  readonly Redacted: { readonly make: (value: string) => unknown }
  readonly ManagedRuntime: { readonly make: (layer: Layer4) => Runtime4 }
  readonly Stream: { readonly runCount: (self: Stream4) => Eff<number> }
  readonly PgClient: { readonly layer: (config: Config4) => Layer4; readonly PgClient: Key4<Sql4> }
  readonly PgPool: { readonly make: (config: Config4) => Eff<Pool4> }
  readonly PgConnection: {
    readonly make: (
      config: Config4
    ) => Eff<{ readonly query: (sql: string, params: ReadonlyArray<unknown>) => Eff<unknown> }>
  }
}

const load = (dir: string, pkg: string, module: string): Promise<unknown> =>
  import(pathToFileURL(path.join(dir, "node_modules", pkg, "dist", `${module}.js`)).href)

const version = (dir: string, pkg: string): string =>
  (JSON.parse(fs.readFileSync(path.join(dir, "node_modules", pkg, "package.json"), "utf8")) as { version: string })
    .version

/**
 * Loads Effect 4 from `peersDir` (installed by the runner), or throws `Unavailable`.
 */
export const loadEffect4 = async (peersDir: string): Promise<Effect4> => {
  if (!fs.existsSync(path.join(peersDir, "node_modules", "@effect", "sql-pg", "package.json"))) {
    throw new Unavailable(`Effect 4 peers are not installed in ${peersDir}`)
  }
  const [Effect, Scope, Exit, Redacted, ManagedRuntime, Stream, PgClient, PgPool, PgConnection] = await Promise.all([
    load(peersDir, "effect", "Effect"),
    load(peersDir, "effect", "Scope"),
    load(peersDir, "effect", "Exit"),
    load(peersDir, "effect", "Redacted"),
    load(peersDir, "effect", "ManagedRuntime"),
    load(peersDir, "effect", "Stream"),
    load(peersDir, "@effect/sql-pg", "PgClient"),
    load(peersDir, "@effect/sql-pg", "PgPool"),
    load(peersDir, "@effect/sql-pg", "PgConnection")
  ])
  return {
    versions: `effect ${version(peersDir, "effect")}, @effect/sql-pg ${version(peersDir, "@effect/sql-pg")}`,
    Effect,
    Scope,
    Exit,
    Redacted,
    ManagedRuntime,
    Stream,
    PgClient,
    PgPool,
    PgConnection
  } as Effect4
}

/** Runs `f` from `concurrency` fibers until `durationMs` has passed; succeeds with the count. */
export const forDuration = <A>(
  E: Effect4,
  concurrency: number,
  durationMs: number,
  op: () => Eff<A>
): Eff<number> =>
  E.Effect.suspend(() => {
    const deadline = Date.now() + durationMs
    let ops = 0
    const worker = E.Effect.whileLoop({
      while: () => Date.now() < deadline,
      body: op,
      step: () => {
        ops++
      }
    })
    const workers = Array.from({ length: concurrency }, (_, i) => i)
    return E.Effect.map(E.Effect.forEach(workers, () => worker, { concurrency: "unbounded", discard: true }), () => ops)
  })

/** Acquires a scoped resource and returns it with the function that closes its scope. */
export const acquire = async <A>(E: Effect4, resource: Eff<A>): Promise<{ value: A; close: () => Promise<void> }> => {
  const scope = await E.Effect.runPromise(E.Scope.make())
  const value = await E.Effect.runPromise(E.Scope.provide(resource, scope))
  return { value, close: () => E.Effect.runPromise(E.Scope.close(scope, E.Exit.void)) }
}
