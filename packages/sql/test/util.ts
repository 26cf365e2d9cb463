import { Db } from "@berth/sql"
import type { Context, Exit, Option } from "effect"
import { Effect, Layer, Tracer } from "effect"
import * as net from "node:net"

/** The test file's own database (the harness sets DATABASE_URL per file). */
export const url = (): string => {
  const value = process.env.DATABASE_URL
  if (value === undefined) throw new Error("DATABASE_URL is not set: the test harness did not run")
  return value
}

export const DbTest = (options: Omit<Db.DbOptions, "url"> = {}): Layer.Layer<Db.Db, unknown> =>
  Layer.suspend(() => Db.layer({ maxOpen: 10, ...options, url: url() }))

/** Sessions of this test's database other than the caller's, by state. */
export const otherSessions = (state: string) =>
  Effect.map(
    Db.query(
      "select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and state = $1",
      [state]
    ),
    (rows) => Number(rows[0]?.n ?? -1)
  )

/** Waits until `check` holds, polling (bounded). */
export const eventually = <E, R>(check: Effect.Effect<boolean, E, R>, attempts = 100) =>
  Effect.gen(function*() {
    for (let i = 0; i < attempts; i++) {
      if (yield* check) return true
      yield* Effect.sleep("50 millis")
    }
    return false
  })

/**
 * A loopback TCP proxy in front of the test server. `cutAfter(pattern)` makes it forward the
 * client's bytes containing `pattern` to the server and then drop both sides before the
 * server's answer comes back — the "connection lost after COMMIT was sent" fault.
 */
export const proxy = Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly cutAfter: (pattern: string) => void; readonly close: () => void }>(
    (resume) => {
      const target = new URL(url())
      const sockets = new Set<net.Socket>()
      let cut: string | undefined
      const server = net.createServer((client) => {
        const upstream = net.connect(Number(target.port || 5432), target.hostname)
        sockets.add(client)
        sockets.add(upstream)
        let dropping = false
        client.on("data", (data: Buffer) => {
          if (dropping) return
          upstream.write(data)
          if (cut !== undefined && data.includes(cut)) {
            dropping = true
            cut = undefined
            // Let the server receive the statement, then lose the connection before its answer.
            upstream.pause()
            setTimeout(() => {
              client.destroy()
              upstream.destroy()
            }, 50)
          }
        })
        upstream.on("data", (data: Buffer) => {
          if (!dropping) client.write(data)
        })
        const end = () => {
          client.destroy()
          upstream.destroy()
        }
        client.on("error", end)
        upstream.on("error", end)
        client.on("close", end)
        upstream.on("close", end)
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address() as net.AddressInfo
        const proxied = new URL(url())
        proxied.hostname = "127.0.0.1"
        proxied.port = String(address.port)
        resume(Effect.succeed({
          url: proxied.toString(),
          cutAfter: (pattern: string) => {
            cut = pattern
          },
          close: () => {
            for (const socket of sockets) socket.destroy()
            server.close()
          }
        }))
      })
    }
  ),
  (p) => Effect.sync(() => p.close())
)

/** Drops and creates a table: tests in one file share its database. */
export const createTable = (name: string, columns: string) =>
  Effect.zipRight(Db.execute(`drop table if exists ${name} cascade`), Db.execute(`create table ${name}(${columns})`))

let ids = 0

export class RecordedSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly spanId = `span${++ids}`
  readonly traceId = "trace"
  readonly sampled = true
  status: Tracer.SpanStatus
  readonly attributes = new Map<string, unknown>()
  readonly links: Array<Tracer.SpanLink>
  constructor(
    readonly name: string,
    readonly parent: Option.Option<Tracer.AnySpan>,
    readonly context: Context.Context<never>,
    links: ReadonlyArray<Tracer.SpanLink>,
    startTime: bigint,
    readonly kind: Tracer.SpanKind
  ) {
    this.links = [...links]
    this.status = { _tag: "Started", startTime }
  }
  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
  }
  attribute(key: string, value: unknown): void {
    this.attributes.set(key, value)
  }
  event(): void {}
  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    this.links.push(...links)
  }
}

/** A tracer that keeps every span it makes (a real tracer, unlike Effect's built-in one). */
export const recordingTracer = () => {
  const spans: Array<RecordedSpan> = []
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      const span = new RecordedSpan(name, parent, context, links, startTime, kind)
      spans.push(span)
      return span
    },
    context: (f) => f()
  })
  return { spans, layer: Layer.setTracer(tracer) }
}
