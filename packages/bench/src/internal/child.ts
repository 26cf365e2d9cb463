/**
 * The entry point of one contender's child process: open, warm up, measure, close, and send
 * one message back to the runner over the IPC channel.
 */
import { fileURLToPath, pathToFileURL } from "node:url"
import type { Contender, Context, Phase } from "../Contender.js"
import * as BerthCode from "./berthCode.js"

/** What the runner passes to a child (JSON in argv[2]). */
export interface Spec {
  readonly file: string
  readonly context: Context
  readonly warmup: Phase | undefined
  readonly measure: Phase
  /** Which code of Berth's packages the child must have loaded (see `Runner.Options.berth`). */
  readonly berth: BerthCode.BerthCode
}

/** What a child sends back. `Skipped`: the contender does not run this case (no row at all). */
export type Message =
  | {
    readonly _tag: "Result"
    readonly ops: number
    readonly elapsedMs: number
    readonly cpuMs: number
    readonly maxRssKb: number | undefined
    readonly counters: Readonly<Record<string, number>>
    readonly description: string
    readonly kind: Contender["kind"]
  }
  | {
    readonly _tag: "Unavailable" | "Failed" | "Skipped"
    readonly reason: string
    readonly description: string
    readonly kind?: Contender["kind"]
  }

const send = (message: Message): Promise<void> =>
  new Promise((resolve) => {
    if (process.send === undefined) {
      console.log(JSON.stringify(message))
      return resolve()
    }
    process.send(message, undefined, {}, () => resolve())
  })

/** How long a contender may take to close; a pool that cannot close is a failure, not a hang. */
const closeTimeoutMs = 20_000

const bounded = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms)
    })
  ]).finally(() => clearTimeout(timer))
}

const describeError = (cause: unknown): string =>
  cause instanceof Error ? `${cause.name === "Error" ? "" : `${cause.name}: `}${cause.message}` : String(cause)

const main = async (): Promise<void> => {
  const spec = JSON.parse(process.argv[2] ?? "{}") as Spec
  let description = spec.file
  let kind: Contender["kind"] | undefined
  try {
    const wrong = BerthCode.mismatch(spec.berth, fileURLToPath(import.meta.resolve("@berth/pg")))
    if (wrong !== undefined) return send({ _tag: "Failed", reason: wrong, description })
    const contender = (await import(pathToFileURL(spec.file).href) as { default: Contender }).default
    description = contender.description
    kind = contender.kind
    if (contender.cases !== undefined && !contender.cases.includes(spec.context.case)) {
      return send({ _tag: "Skipped", reason: `case ${spec.context.case} is not supported`, description })
    }
    const reason = await contender.unavailable?.(spec.context)
    if (reason !== undefined) return send({ _tag: "Unavailable", reason, description, kind: contender.kind })
    const session = await contender.open(spec.context)
    description = session.description ?? description
    let outcome
    let elapsedMs
    let cpu
    try {
      if (spec.warmup !== undefined) {
        await session.reset?.(spec.warmup)
        await session.run(spec.warmup)
      }
      await session.reset?.(spec.measure)
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      outcome = await session.run(spec.measure)
      elapsedMs = performance.now() - t0
      cpu = process.cpuUsage(cpu0)
    } finally {
      await bounded(session.close(), closeTimeoutMs, "session.close()")
    }
    return send({
      _tag: "Result",
      ops: outcome.ops,
      elapsedMs: outcome.elapsedMs ?? elapsedMs,
      cpuMs: outcome.cpuMs ?? (cpu.user + cpu.system) / 1000,
      maxRssKb: outcome.external === true ? undefined : process.resourceUsage().maxRSS,
      counters: outcome.counters ?? {},
      description,
      kind: contender.kind
    })
  } catch (cause) {
    if (cause instanceof Error && cause.name === "Unavailable") {
      return send({ _tag: "Unavailable", reason: cause.message, description, ...(kind ? { kind } : {}) })
    }
    return send({ _tag: "Failed", reason: describeError(cause), description, ...(kind ? { kind } : {}) })
  }
}

main().then(
  () => process.exit(0),
  (cause: unknown) => {
    console.error(cause)
    process.exit(1)
  }
)
