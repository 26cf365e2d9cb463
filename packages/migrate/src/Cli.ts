/**
 * The `berth-migrate` command line, built with `@effect/cli`.
 *
 * ```
 * berth-migrate create NAME [--seq|--timestamp] [--ext sql|ts] [--dir DIR]
 * berth-migrate up [N] | down [N|--all] | goto V | status | version | validate
 * berth-migrate force V [--reason TEXT] | repair [--accept-checksums] | baseline V [--reason TEXT]
 * ```
 *
 * Exit codes: 0 success; 1 failure (one-line reason on stderr); 2 usage error;
 * `status`: 3 when migrations are pending, 4 when something needs attention (failed,
 * modified, missing or out-of-order migrations); `validate`: 4 on a checksum mismatch.
 *
 * @since 0.1.0
 */
import { Args, Command, Options, ValidationError } from "@effect/cli"
import type { CliApp } from "@effect/cli/CliApp"
import type { FileSystem, Path } from "@effect/platform"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Console, Data, Duration, Effect, Option } from "effect"
import * as CliClient from "./internal/cliClient.js"
import * as Render from "./internal/render.js"
import type { MigrateError } from "./MigrateError.js"
import * as MigrationSource from "./MigrationSource.js"
import * as Migrator from "./Migrator.js"
import * as Scaffold from "./Scaffold.js"

/**
 * A command ended with a non-zero exit code (and, for failures, a one-line reason).
 *
 * @example
 * ```ts
 * import { Cli } from "@berth/migrate"
 *
 * const pending = new Cli.Exit({ code: 3, reason: undefined })
 * ```
 *
 * @since 0.1.0
 */
export class Exit extends Data.TaggedError("CliExit")<{
  readonly code: number
  readonly reason: string | undefined
}> {}

const common = {
  databaseUrl: Options.text("database-url").pipe(
    Options.withDescription("PostgreSQL URL (default: $DATABASE_URL, else the PG* variables)"),
    Options.optional
  ),
  dir: Options.directory("dir", { exists: "either" }).pipe(
    Options.withDescription("migrations directory"),
    Options.withDefault("migrations")
  ),
  table: Options.text("table").pipe(
    Options.withDescription("history table, table or schema.table"),
    Options.withDefault("berth_migrations")
  ),
  json: Options.boolean("json").pipe(Options.withDescription("machine-readable output on stdout")),
  color: Options.choice("color", ["auto", "always", "never"]).pipe(Options.withDefault("auto" as const)),
  lockTimeout: Options.integer("lock-timeout").pipe(
    Options.withDescription("seconds to wait for another runner's lock"),
    Options.withDefault(60)
  ),
  noWait: Options.boolean("no-wait").pipe(Options.withDescription("fail at once if another runner holds the lock")),
  allowOutOfOrder: Options.boolean("allow-out-of-order").pipe(
    Options.withDescription("apply pending migrations older than the latest applied one")
  ),
  ignoreChecksums: Options.boolean("ignore-checksums").pipe(
    Options.withDescription("run even if applied migrations were edited")
  ),
  tableLockTimeout: Options.text("table-lock-timeout").pipe(
    Options.withDescription("lock_timeout of each migration, e.g. 5 or \"500 millis\" (seconds by default)"),
    Options.optional
  ),
  statementTimeout: Options.text("statement-timeout").pipe(
    Options.withDescription("statement_timeout of each migration, e.g. 300 or \"10 minutes\""),
    Options.optional
  )
}

const dryRun = Options.boolean("dry-run").pipe(Options.withDescription("print the SQL, change nothing"))

type Common = {
  readonly databaseUrl: Option.Option<string>
  readonly dir: string
  readonly table: string
  readonly json: boolean
  readonly color: "auto" | "always" | "never"
  readonly lockTimeout: number
  readonly noWait: boolean
  readonly allowOutOfOrder: boolean
  readonly ignoreChecksums: boolean
  readonly tableLockTimeout: Option.Option<string>
  readonly statementTimeout: Option.Option<string>
}

// A bare number is seconds; anything else is an Effect duration ("500 millis", "2 minutes").
const duration = (text: Option.Option<string>): Duration.DurationInput | undefined =>
  Option.match(text, {
    onNone: () => undefined,
    onSome: (t) => (/^\d+(\.\d+)?$/.test(t.trim()) ? Duration.seconds(Number(t)) : (t.trim() as Duration.DurationInput))
  })

type Env = FileSystem.FileSystem | Path.Path

const painter = (c: Common) =>
  Render.paint(!c.json && (c.color === "always" || (c.color === "auto" && Render.colorByDefault())))

const migratorOptions = (c: Common, dry: boolean): Migrator.Options<Env> => {
  const p = painter(c)
  return {
    source: MigrationSource.fromDirectory(c.dir),
    table: c.table,
    lockTimeout: `${c.lockTimeout} seconds`,
    wait: !c.noWait,
    allowOutOfOrder: c.allowOutOfOrder,
    validateChecksums: !c.ignoreChecksums,
    tableLockTimeout: duration(c.tableLockTimeout),
    statementTimeout: duration(c.statementTimeout),
    dryRun: dry,
    onEvent: (e) => {
      if (c.json) return Effect.void
      const line = Render.event(p, e)
      return line === undefined ? Effect.void : Console.log(line)
    }
  }
}

const withDb = <A, E>(
  c: Common,
  effect: Effect.Effect<A, E, SqlClient.SqlClient | Env>
): Effect.Effect<A, E | MigrateError | SqlError, Env> =>
  Effect.provide(effect, CliClient.layer(Option.getOrUndefined(c.databaseUrl) ?? process.env["DATABASE_URL"]))

const output = (c: Common, json: unknown, human: () => string) =>
  c.json ? Console.log(JSON.stringify(json, null, 2)) : Console.log(human())

const runCommand = (
  verb: string,
  c: Common,
  effect: Effect.Effect<Migrator.RunResult, unknown, SqlClient.SqlClient | Env>
) => Effect.flatMap(withDb(c, effect), (r) => output(c, r, () => Render.run(painter(c), verb, r)))

const adminCommand = (c: Common, effect: Effect.Effect<Migrator.AdminResult, unknown, SqlClient.SqlClient | Env>) =>
  Effect.flatMap(withDb(c, effect), (r) =>
    output(c, r, () => {
      const head = r.dryRun ? "-- dry run: would change" : "changed"
      if (r.changes.length === 0) return "nothing to change"
      return r.dryRun
        ? [`${head}:`, ...r.changes.map((l) => `--   ${l}`), r.sql].join("\n")
        : [`${head}:`, ...r.changes.map((l) => `  ${l}`)].join("\n")
    }))

const createCommand = Command.make(
  "create",
  {
    name: Args.text({ name: "NAME" }),
    dir: common.dir,
    seq: Options.boolean("seq").pipe(Options.withDescription("sequential version (highest + 1)")),
    timestamp: Options.boolean("timestamp").pipe(Options.withDescription("UTC timestamp version")),
    digits: Options.integer("digits").pipe(Options.withDefault(6)),
    ext: Options.choice("ext", ["sql", "ts"]).pipe(Options.withDefault("sql" as const)),
    json: common.json,
    dryRun
  },
  (a) =>
    Effect.gen(function*() {
      if (a.seq && a.timestamp) return yield* new Exit({ code: 2, reason: "--seq and --timestamp exclude each other" })
      const created = yield* Scaffold.create({
        dir: a.dir,
        name: a.name,
        format: a.seq ? "seq" : a.timestamp ? "timestamp" : undefined,
        digits: a.digits,
        ext: a.ext,
        dryRun: a.dryRun
      })
      yield* a.json
        ? Console.log(JSON.stringify({ dryRun: a.dryRun, ...created }, null, 2))
        : Console.log(
          a.dryRun
            ? created.files.map((f, i) => `-- dry run: would write ${f}\n${created.contents[i]}`).join("\n")
            : created.files.join("\n")
        )
    })
).pipe(Command.withDescription("create the files of a new migration"))

const upCommand = Command.make(
  "up",
  { ...common, dryRun, n: Args.integer({ name: "N" }).pipe(Args.optional) },
  (a) => runCommand("up", a, Migrator.up(migratorOptions(a, a.dryRun), Option.getOrUndefined(a.n)))
).pipe(Command.withDescription("apply all (or N) pending migrations"))

const downCommand = Command.make(
  "down",
  {
    ...common,
    dryRun,
    all: Options.boolean("all").pipe(Options.withDescription("revert every applied migration")),
    n: Args.integer({ name: "N" }).pipe(Args.optional)
  },
  (a) =>
    Effect.gen(function*() {
      if (a.all && Option.isSome(a.n)) return yield* new Exit({ code: 2, reason: "give N or --all, not both" })
      yield* runCommand(
        "down",
        a,
        Migrator.down(migratorOptions(a, a.dryRun), a.all ? "all" : Option.getOrElse(a.n, () => 1))
      )
    })
).pipe(Command.withDescription("revert the last (or N, or --all) applied migrations"))

const gotoCommand = Command.make(
  "goto",
  { ...common, dryRun, v: Args.integer({ name: "V" }) },
  (a) => runCommand("goto", a, Migrator.goto(migratorOptions(a, a.dryRun), a.v))
).pipe(Command.withDescription("migrate up or down to version V (0: revert everything)"))

const statusCommand = Command.make("status", common, (a) =>
  Effect.gen(function*() {
    const report = yield* withDb(a, Migrator.status(migratorOptions(a, false)))
    yield* output(a, report, () => Render.status(painter(a), report))
    const attention = report.failed.length + report.modified.length + report.missing.length + report.outOfOrder.length
    if (attention > 0) return yield* new Exit({ code: 4, reason: undefined })
    if (report.pending.length > 0) return yield* new Exit({ code: 3, reason: undefined })
  })).pipe(Command.withDescription("applied, pending, failed, missing, modified and out-of-order migrations"))

const versionCommand = Command.make("version", common, (a) =>
  Effect.gen(function*() {
    const v = yield* withDb(a, Migrator.version(migratorOptions(a, false)))
    yield* output(a, v, () => `${v.version ?? "none"}${v.failed ? " (failed state: run status)" : ""}`)
  })).pipe(Command.withDescription("the current version"))

const validateCommand = Command.make("validate", common, (a) =>
  Effect.gen(function*() {
    const result = yield* withDb(a, Migrator.validate(migratorOptions(a, false))).pipe(
      Effect.catchTag("ChecksumMismatch", (e) =>
        Effect.zipRight(
          output(a, { ok: false, modified: e.modified }, () =>
            e.modified.map((m) => `~ ${m.version} ${m.name}: checksum changed`).join("\n")),
          Effect.fail(new Exit({ code: 4, reason: e.message }))
        ))
    )
    yield* output(
      a,
      { ok: true, ...result },
      () =>
        `${result.checked} checksum(s) match${
          result.missing.length > 0 ? `; applied but missing from the source: ${result.missing.join(", ")}` : ""
        }`
    )
  })).pipe(Command.withDescription("check the checksums of applied migrations against the files"))

const reason = Options.text("reason").pipe(Options.withDescription("recorded in the history row"), Options.optional)

const forceCommand = Command.make(
  "force",
  { ...common, dryRun, reason, v: Args.integer({ name: "V" }) },
  (a) => adminCommand(a, Migrator.force(migratorOptions(a, a.dryRun), a.v, Option.getOrUndefined(a.reason)))
).pipe(Command.withDescription("mark version V applied after a manual repair (clears its failed state)"))

const repairCommand = Command.make(
  "repair",
  {
    ...common,
    dryRun,
    acceptChecksums: Options.boolean("accept-checksums").pipe(
      Options.withDescription("also record the current checksums of modified migrations")
    )
  },
  (a) => adminCommand(a, Migrator.repair(migratorOptions(a, a.dryRun), { acceptChecksums: a.acceptChecksums }))
).pipe(Command.withDescription("clear failed states so the failed migrations can be retried"))

const baselineCommand = Command.make(
  "baseline",
  { ...common, dryRun, reason, v: Args.integer({ name: "V" }) },
  (a) => adminCommand(a, Migrator.baseline(migratorOptions(a, a.dryRun), a.v, Option.getOrUndefined(a.reason)))
).pipe(Command.withDescription("adopt an existing database: record migrations up to V as applied"))

/**
 * The command tree.
 *
 * @example
 * ```ts
 * import { Cli } from "@berth/migrate"
 * import { Command } from "@effect/cli"
 *
 * // Embed berth-migrate's commands in your own CLI.
 * const admin = Command.make("admin").pipe(Command.withSubcommands([Cli.command]))
 * ```
 *
 * @since 0.1.0
 */
export const command = Command.make("berth-migrate").pipe(
  Command.withDescription("PostgreSQL migrations"),
  Command.withSubcommands([
    createCommand,
    upCommand,
    downCommand,
    gotoCommand,
    statusCommand,
    versionCommand,
    validateCommand,
    forceCommand,
    repairCommand,
    baselineCommand
  ])
)

const cli = Command.run(command, { name: "berth-migrate", version: "0.1.0" })

const jsonRequested = (args: ReadonlyArray<string>) => args.includes("--json")

/**
 * Runs the CLI on `args` (the words after the program name) and returns the exit code.
 * Output goes to the `Console`: results to `log`, the one-line reason of a failure to
 * `error` (or, with `--json`, a JSON error object to `log`).
 *
 * @example
 * ```ts
 * import { Cli } from "@berth/migrate"
 * import { NodeContext } from "@effect/platform-node"
 * import { Effect } from "effect"
 *
 * const code = await Effect.runPromise(Cli.run(["status", "--dir", "./migrations"]).pipe(Effect.provide(NodeContext.layer)))
 * ```
 *
 * @since 0.1.0
 */
export const run = (args: ReadonlyArray<string>): Effect.Effect<number, never, CliApp.Environment> =>
  cli(["node", "berth-migrate", ...args]).pipe(
    Effect.as(0),
    Effect.catchAll((error: unknown) => {
      if (error instanceof Exit) {
        if (error.reason === undefined) return Effect.succeed(error.code)
        return Effect.as(Console.error(`error: ${error.reason}`), error.code)
      }
      // @effect/cli has already printed the usage problem and the help.
      if (ValidationError.isValidationError(error)) return Effect.succeed(2)
      const tag = typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : "Error"
      const message = oneLine(error)
      return Effect.as(
        jsonRequested(args)
          ? Console.log(JSON.stringify({ error: { _tag: tag, message, detail: error } }, null, 2))
          : Console.error(`error: ${message}`),
        1
      )
    }),
    Effect.catchAllDefect((defect) => Effect.as(Console.error(`error: unexpected failure: ${oneLine(defect)}`), 1))
  )

const oneLine = (error: unknown): string => {
  const base = typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error)
  // SqlError's message is generic; the driver's cause says what happened.
  const cause = typeof error === "object" && error !== null && "cause" in error ? error.cause : undefined
  const detail = typeof cause === "object" && cause !== null && "message" in cause ? `: ${String(cause.message)}` : ""
  const tag = typeof error === "object" && error !== null && "_tag" in error ? error._tag : undefined
  const text = tag === "SqlError" ? `${base}${detail}` : base
  return text.replace(/:\s*\n\s*/g, ": ").replace(/\s*\n\s*/g, "; ")
}
