/**
 * Connection settings, compatible with libpq: `postgres://` URLs, `key=value` strings, the
 * `PG*` environment variables, multi-host lists with `target_session_attrs`.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as os from "node:os"
import type * as tls from "node:tls"
import { isUrl, parseKeyValue, parseUrl, type Setting, type Settings } from "./internal/connstring.js"
import { PgConfigError } from "./PgError.js"

/**
 * libpq's `sslmode`. `prefer` (the default) tries TLS and falls back to plain text when the
 * server has none; `require` insists on TLS without verifying the certificate (unless
 * `sslrootcert` is set, then it behaves like `verify-ca`); `verify-ca` checks the chain;
 * `verify-full` also checks the host name.
 *
 * @example
 * ```ts
 * import { PgConfig } from "@berth/pg"
 *
 * const mode: PgConfig.SslMode = "verify-full"
 * ```
 *
 * @since 0.1.0
 */
export type SslMode = "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full"

/**
 * libpq's `target_session_attrs`: which of the listed hosts is acceptable.
 *
 * @example
 * ```ts
 * import { PgConfig } from "@berth/pg"
 *
 * const config = PgConfig.make({ hosts: [{ host: "a" }, { host: "b" }], targetSessionAttrs: "read-write" })
 * ```
 *
 * @since 0.1.0
 */
export type TargetSessionAttrs = "any" | "read-write" | "read-only" | "primary" | "standby" | "prefer-standby"

/**
 * libpq's `channel_binding` for SCRAM over TLS.
 *
 * @example
 * ```ts
 * import { PgConfig } from "@berth/pg"
 *
 * const config = PgConfig.make({ sslmode: "require", channelBinding: "require" })
 * ```
 *
 * @since 0.1.0
 */
export type ChannelBinding = "disable" | "prefer" | "require"

/**
 * Authentication methods, as named by libpq's `require_auth`.
 *
 * @example
 * ```ts
 * import { PgConfig } from "@berth/pg"
 *
 * const config = PgConfig.make({ requireAuth: ["scram-sha-256"] })
 * ```
 *
 * @since 0.1.0
 */
export type AuthMethod = "password" | "md5" | "scram-sha-256" | "gss" | "sspi" | "none"

/**
 * One host to try: a name or address with a TCP port, or a Unix socket directory (a `host`
 * starting with `/`), in which case the socket is `<host>/.s.PGSQL.<port>`.
 *
 * @example
 * ```ts
 * import { PgConfig } from "@berth/pg"
 *
 * const socket: PgConfig.HostPort = { host: "/var/run/postgresql", port: 5432 }
 * ```
 *
 * @since 0.1.0
 */
export interface HostPort {
  readonly host: string
  readonly port: number
}

/**
 * Everything needed to open a connection. Build one with {@link parse}, {@link make} or
 * {@link config}.
 *
 * @example
 * ```ts
 * import { PgConfig } from "@berth/pg"
 *
 * const config: PgConfig.PgConfig = PgConfig.make({ host: "db", database: "shop" })
 * console.log(config.sslmode) // "prefer"
 * ```
 *
 * @since 0.1.0
 */
export interface PgConfig {
  /** Tried in order (or shuffled with `loadBalanceHosts: "random"`). */
  readonly hosts: ReadonlyArray<HostPort>
  readonly database: string
  readonly user: string
  /** A fixed secret, or an Effect evaluated at every connect (rotating credentials). */
  readonly password: Redacted.Redacted | Effect.Effect<Redacted.Redacted> | undefined
  readonly sslmode: SslMode
  /** Path of the CA certificate(s) file, or `system` for the platform's CA store. */
  readonly sslrootcert: string | undefined
  /** Path of the client certificate file. */
  readonly sslcert: string | undefined
  /** Path of the client private key file. */
  readonly sslkey: string | undefined
  /** Passphrase of `sslkey`. */
  readonly sslpassword: Redacted.Redacted | undefined
  /** Send the host name as TLS SNI (default true). */
  readonly sslsni: boolean
  readonly sslMinProtocolVersion: tls.SecureVersion | undefined
  readonly sslMaxProtocolVersion: tls.SecureVersion | undefined
  /** Extra Node TLS options (inline `ca`/`cert`/`key` buffers, ...), applied last. */
  readonly tls: tls.ConnectionOptions | undefined
  readonly channelBinding: ChannelBinding
  /** Per host attempt, covering TCP, TLS and authentication. `undefined` = 30 seconds. */
  readonly connectTimeout: Duration.Duration | undefined
  readonly applicationName: string | undefined
  /** Command-line options for the server process, e.g. `-c search_path=app`. */
  readonly options: string | undefined
  readonly targetSessionAttrs: TargetSessionAttrs
  readonly loadBalanceHosts: "disable" | "random"
  /** If set, the server must use one of these methods. */
  readonly requireAuth: ReadonlyArray<AuthMethod> | undefined
  /** Send a password in cleartext when the server asks for it (refused by default). */
  readonly allowCleartextPassword: boolean
  /** Answer MD5 password challenges (refused by default: MD5 is deprecated). */
  readonly allowMd5Password: boolean
  readonly keepAlive: boolean
  readonly keepAliveInitialDelay: Duration.Duration
  /** Other run-time parameters sent in the startup packet (`search_path`, `TimeZone`, ...). */
  readonly parameters: Readonly<Record<string, string>>
}

/** libpq keys with a meaning on the client; every other key is sent as a startup parameter. */
const clientKeys = new Set([
  "host",
  "hostaddr",
  "port",
  "dbname",
  "user",
  "password",
  "sslmode",
  "ssl",
  "sslrootcert",
  "sslcert",
  "sslkey",
  "sslpassword",
  "sslsni",
  "ssl_min_protocol_version",
  "ssl_max_protocol_version",
  "channel_binding",
  "connect_timeout",
  "application_name",
  "fallback_application_name",
  "options",
  "target_session_attrs",
  "load_balance_hosts",
  "require_auth",
  "keepalives",
  "keepalives_idle",
  "client_encoding",
  "gssencmode",
  // accepted and ignored: they only tune behaviour this client does not have
  "keepalives_interval",
  "keepalives_count",
  "tcp_user_timeout",
  "sslcompression",
  "krbsrvname",
  "gsslib"
])

/** Keys that would change security or routing if ignored: refuse them explicitly. */
const unsupportedKeys = new Set(["service", "passfile", "requirepeer", "sslcrl", "sslcrldir", "sslcertmode"])

const envKeys: ReadonlyArray<readonly [string, string]> = [
  ["PGHOST", "host"],
  ["PGHOSTADDR", "hostaddr"],
  ["PGPORT", "port"],
  ["PGDATABASE", "dbname"],
  ["PGUSER", "user"],
  ["PGPASSWORD", "password"],
  ["PGSSLMODE", "sslmode"],
  ["PGSSLROOTCERT", "sslrootcert"],
  ["PGSSLCERT", "sslcert"],
  ["PGSSLKEY", "sslkey"],
  ["PGSSLSNI", "sslsni"],
  ["PGSSLMINPROTOCOLVERSION", "ssl_min_protocol_version"],
  ["PGSSLMAXPROTOCOLVERSION", "ssl_max_protocol_version"],
  ["PGCHANNELBINDING", "channel_binding"],
  ["PGAPPNAME", "application_name"],
  ["PGCONNECT_TIMEOUT", "connect_timeout"],
  ["PGTARGETSESSIONATTRS", "target_session_attrs"],
  ["PGOPTIONS", "options"],
  ["PGREQUIREAUTH", "require_auth"],
  ["PGLOADBALANCEHOSTS", "load_balance_hosts"],
  ["PGCLIENTENCODING", "client_encoding"],
  ["PGGSSENCMODE", "gssencmode"]
]

/**
 * The names of the environment variables {@link parse} and {@link config} read.
 *
 * @example
 * ```ts
 * import { PgConfig } from "@berth/pg"
 *
 * console.log(PgConfig.environmentVariables.includes("PGHOST")) // true
 * ```
 *
 * @since 0.1.0
 */
export const environmentVariables: ReadonlyArray<string> = envKeys.map(([name]) => name)

const defaultUser = (): string => {
  try {
    return os.userInfo().username
  } catch {
    return "postgres"
  }
}

const oneOf = <A extends string>(
  settings: Settings,
  key: string,
  allowed: ReadonlyArray<A>,
  fallback: A
): A => {
  const s = settings.get(key)
  if (s === undefined || s.value === "") return fallback
  if ((allowed as ReadonlyArray<string>).includes(s.value)) return s.value as A
  throw new PgConfigError({
    message: `invalid ${key} "${s.value}" (expected one of: ${allowed.join(", ")})`,
    part: `${key}=${s.value}`,
    position: s.position
  })
}

const boolSetting = (settings: Settings, key: string, fallback: boolean): boolean => {
  const s = settings.get(key)
  if (s === undefined || s.value === "") return fallback
  if (s.value === "1" || s.value === "true" || s.value === "on") return true
  if (s.value === "0" || s.value === "false" || s.value === "off") return false
  throw new PgConfigError({ message: `invalid ${key} "${s.value}" (expected 0 or 1)`, part: key, position: s.position })
}

const intSetting = (s: Setting, key: string, min: number, max: number): number => {
  const n = /^\s*-?\d+\s*$/.test(s.value) ? Number(s.value) : Number.NaN
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new PgConfigError({
      message: `invalid ${key} "${s.value}" (expected an integer from ${min} to ${max})`,
      part: `${key}=${s.value}`,
      position: s.position
    })
  }
  return n
}

const tlsVersions: Record<string, tls.SecureVersion> = {
  "TLSv1": "TLSv1",
  "TLSv1.1": "TLSv1.1",
  "TLSv1.2": "TLSv1.2",
  "TLSv1.3": "TLSv1.3"
}

const tlsVersion = (settings: Settings, key: string): tls.SecureVersion | undefined => {
  const s = settings.get(key)
  if (s === undefined || s.value === "") return undefined
  const v = tlsVersions[s.value]
  if (v === undefined) {
    throw new PgConfigError({ message: `invalid ${key} "${s.value}"`, part: `${key}=${s.value}`, position: s.position })
  }
  return v
}

const authMethods: ReadonlyArray<AuthMethod> = ["password", "md5", "scram-sha-256", "gss", "sspi", "none"]

const requireAuthSetting = (settings: Settings): ReadonlyArray<AuthMethod> | undefined => {
  const s = settings.get("require_auth")
  if (s === undefined || s.value === "") return undefined
  const items = s.value.split(",").map((x) => x.trim())
  const negated = items.every((x) => x.startsWith("!"))
  if (!negated && items.some((x) => x.startsWith("!"))) {
    throw new PgConfigError({
      message: "require_auth cannot mix negated (!method) and plain methods",
      part: `require_auth=${s.value}`,
      position: s.position
    })
  }
  const names = items.map((x) => (negated ? x.slice(1) : x))
  for (const name of names) {
    if (!(authMethods as ReadonlyArray<string>).includes(name)) {
      throw new PgConfigError({
        message: `invalid require_auth method "${name}" (expected: ${authMethods.join(", ")})`,
        part: `require_auth=${s.value}`,
        position: s.position
      })
    }
  }
  return negated ? authMethods.filter((m) => !names.includes(m)) : (names as Array<AuthMethod>)
}

const hostsSetting = (settings: Settings): ReadonlyArray<HostPort> => {
  const hostSetting = settings.get("host")?.value ? settings.get("host") : settings.get("hostaddr")
  const hosts = hostSetting === undefined || hostSetting.value === "" ? [""] : hostSetting.value.split(",")
  const portSetting = settings.get("port")
  const ports = portSetting === undefined || portSetting.value === "" ? [""] : portSetting.value.split(",")
  if (ports.length !== 1 && ports.length !== hosts.length) {
    throw new PgConfigError({
      message: `could not match ${ports.length} port numbers to ${hosts.length} hosts`,
      part: `port=${portSetting?.value}`,
      position: portSetting?.position
    })
  }
  return hosts.map((host, i) => {
    const portText = (ports.length === 1 ? ports[0] : ports[i]) ?? ""
    const port = portText === ""
      ? 5432
      : intSetting({ value: portText, position: portSetting?.position ?? 0 }, "port", 1, 65535)
    return { host: host.trim() === "" ? "localhost" : host.trim(), port }
  })
}

const fromSettings = (settings: Settings): PgConfig => {
  for (const [key, s] of settings) {
    if (unsupportedKeys.has(key)) {
      throw new PgConfigError({
        message: `connection option "${key}" is not supported`,
        part: key,
        position: s.position
      })
    }
    if (key === "") {
      throw new PgConfigError({ message: "empty connection option name", part: key, position: s.position })
    }
  }
  const ssl = settings.get("ssl")
  if (ssl !== undefined && !settings.has("sslmode")) {
    // pgx/node-postgres compatibility: ssl=true means require
    settings.set("sslmode", {
      value: boolSetting(settings, "ssl", false) ? "require" : "disable",
      position: ssl.position
    })
  }
  const clientEncoding = settings.get("client_encoding")
  if (clientEncoding !== undefined && !/^(utf-?8|auto|)$/i.test(clientEncoding.value)) {
    throw new PgConfigError({
      message: `client_encoding must be UTF8 (got "${clientEncoding.value}")`,
      part: `client_encoding=${clientEncoding.value}`,
      position: clientEncoding.position
    })
  }
  if (oneOf(settings, "gssencmode", ["disable", "prefer", "require"], "prefer") === "require") {
    throw new PgConfigError({
      message: "gssencmode=require is not supported (no GSSAPI encryption)",
      part: "gssencmode=require",
      position: settings.get("gssencmode")?.position
    })
  }
  const user = settings.get("user")?.value || defaultUser()
  const password = settings.get("password")
  const timeout = settings.get("connect_timeout")
  let connectTimeout: Duration.Duration | undefined
  if (timeout !== undefined && timeout.value !== "") {
    const seconds = intSetting(timeout, "connect_timeout", -2147483648, 2147483647)
    // libpq: 0 or negative waits forever; anything else is at least 2 seconds
    connectTimeout = seconds <= 0 ? Duration.infinity : Duration.seconds(Math.max(seconds, 2))
  }
  const keepIdle = settings.get("keepalives_idle")
  const requireAuth = requireAuthSetting(settings)
  const parameters: Record<string, string> = {}
  for (const [key, s] of settings) {
    if (!clientKeys.has(key)) parameters[key] = s.value
  }
  return {
    hosts: hostsSetting(settings),
    database: settings.get("dbname")?.value || user,
    user,
    password: password === undefined ? undefined : Redacted.make(password.value),
    sslmode: oneOf(
      settings,
      "sslmode",
      ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"],
      "prefer"
    ),
    sslrootcert: settings.get("sslrootcert")?.value || undefined,
    sslcert: settings.get("sslcert")?.value || undefined,
    sslkey: settings.get("sslkey")?.value || undefined,
    sslpassword: settings.get("sslpassword") === undefined
      ? undefined
      : Redacted.make(settings.get("sslpassword")!.value),
    sslsni: boolSetting(settings, "sslsni", true),
    sslMinProtocolVersion: tlsVersion(settings, "ssl_min_protocol_version"),
    sslMaxProtocolVersion: tlsVersion(settings, "ssl_max_protocol_version"),
    tls: undefined,
    channelBinding: oneOf(settings, "channel_binding", ["disable", "prefer", "require"], "prefer"),
    connectTimeout,
    applicationName: settings.get("application_name")?.value || settings.get("fallback_application_name")?.value ||
      undefined,
    options: settings.get("options")?.value || undefined,
    targetSessionAttrs: oneOf(
      settings,
      "target_session_attrs",
      ["any", "read-write", "read-only", "primary", "standby", "prefer-standby"],
      "any"
    ),
    loadBalanceHosts: oneOf(settings, "load_balance_hosts", ["disable", "random"], "disable"),
    requireAuth,
    allowCleartextPassword: requireAuth?.includes("password") ?? false,
    allowMd5Password: requireAuth?.includes("md5") ?? false,
    keepAlive: boolSetting(settings, "keepalives", true),
    keepAliveInitialDelay: keepIdle === undefined || keepIdle.value === ""
      ? Duration.seconds(60)
      : Duration.seconds(intSetting(keepIdle, "keepalives_idle", 0, 2147483647)),
    parameters
  }
}

/**
 * Parses synchronously; the Effect-returning {@link parse} and {@link config} wrap it.
 *
 * @example
 * ```ts
 * import { PgConfig } from "@berth/pg"
 * import { Either } from "effect"
 *
 * const result = PgConfig.parseEither("host=db port=5433 dbname=app", {})
 * if (Either.isRight(result)) console.log(result.right.hosts) // [{ host: "db", port: 5433 }]
 * ```
 *
 * @since 0.1.0
 */
export const parseEither = (
  input: string,
  env: Record<string, string | undefined> = process.env
): Either.Either<PgConfig, PgConfigError> => {
  try {
    const fromInput = input.trim() === "" ? new Map() : isUrl(input) ? parseUrl(input) : parseKeyValue(input)
    const settings: Settings = new Map()
    for (const [name, key] of envKeys) {
      const value = env[name]
      if (value !== undefined && value !== "") settings.set(key, { value, position: -1 })
    }
    // the string wins over the environment; an env-provided host list keeps its ports only
    // when the string names no hosts
    if (fromInput.has("host") || fromInput.has("hostaddr")) {
      settings.delete("hostaddr")
      if (!fromInput.has("port")) settings.delete("port")
    }
    for (const [key, s] of fromInput) settings.set(key, s)
    return Either.right(fromSettings(settings))
  } catch (e) {
    if (e instanceof PgConfigError) {
      return Either.left(
        e.position === -1
          ? new PgConfigError({ message: `${e.message} (from the environment)`, part: e.part, position: undefined })
          : e
      )
    }
    throw e
  }
}

/**
 * Parses a libpq connection string — a `postgres://` / `postgresql://` URL or a `key=value`
 * list — falling back to the `PG*` variables of `env` (default `process.env`) for anything the
 * string does not set. An empty string uses the environment alone.
 *
 * @example
 * ```ts
 * import { PgConfig } from "@berth/pg"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const config = yield* PgConfig.parse("postgres://app@db1:5432,db2:5432/app?target_session_attrs=read-write")
 *   console.log(config.hosts.length, config.targetSessionAttrs) // 2 "read-write"
 * })
 * ```
 *
 * @since 0.1.0
 */
export const parse = (
  input: string,
  env?: Record<string, string | undefined>
): Effect.Effect<PgConfig, PgConfigError> => Effect.suspend(() => parseEither(input, env))

/**
 * Options of {@link make}: any {@link PgConfig} field, plus `host`/`port` shorthands and a
 * password given as a plain string.
 *
 * @example
 * ```ts
 * import { PgConfig } from "@berth/pg"
 *
 * const options: PgConfig.MakeOptions = { host: "db", port: 5433, password: "secret" }
 * const config = PgConfig.make(options)
 * ```
 *
 * @since 0.1.0
 */
export interface MakeOptions extends Partial<Omit<PgConfig, "password" | "connectTimeout" | "hosts">> {
  readonly hosts?: ReadonlyArray<{ readonly host: string; readonly port?: number | undefined }>
  readonly host?: string
  readonly port?: number
  readonly password?: string | Redacted.Redacted | Effect.Effect<Redacted.Redacted> | undefined
  readonly connectTimeout?: Duration.DurationInput | undefined
}

/**
 * Builds a config in code, with libpq's defaults for what is not given (`localhost:5432`, the
 * OS user, database = user, `sslmode=prefer`, `target_session_attrs=any`). Reads no
 * environment variables.
 *
 * @example
 * ```ts
 * import { PgConfig } from "@berth/pg"
 * import { Redacted } from "effect"
 *
 * const config = PgConfig.make({ host: "127.0.0.1", user: "app", password: Redacted.make("s3cret") })
 * ```
 *
 * @since 0.1.0
 */
export const make = (options: MakeOptions = {}): PgConfig => {
  const user = options.user ?? defaultUser()
  const port = options.port ?? 5432
  const hosts = options.hosts?.map((h) => ({ host: h.host, port: h.port ?? port })) ??
    [{ host: options.host ?? "localhost", port }]
  const password = typeof options.password === "string" ? Redacted.make(options.password) : options.password
  return {
    hosts,
    database: options.database ?? user,
    user,
    password,
    sslmode: options.sslmode ?? "prefer",
    sslrootcert: options.sslrootcert,
    sslcert: options.sslcert,
    sslkey: options.sslkey,
    sslpassword: options.sslpassword,
    sslsni: options.sslsni ?? true,
    sslMinProtocolVersion: options.sslMinProtocolVersion,
    sslMaxProtocolVersion: options.sslMaxProtocolVersion,
    tls: options.tls,
    channelBinding: options.channelBinding ?? "prefer",
    connectTimeout: options.connectTimeout === undefined ? undefined : Duration.decode(options.connectTimeout),
    applicationName: options.applicationName,
    options: options.options,
    targetSessionAttrs: options.targetSessionAttrs ?? "any",
    loadBalanceHosts: options.loadBalanceHosts ?? "disable",
    requireAuth: options.requireAuth,
    allowCleartextPassword: options.allowCleartextPassword ?? false,
    allowMd5Password: options.allowMd5Password ?? false,
    keepAlive: options.keepAlive ?? true,
    keepAliveInitialDelay: options.keepAliveInitialDelay ?? Duration.seconds(60),
    parameters: options.parameters ?? {}
  }
}

/**
 * A config read through Effect's `ConfigProvider`: the URL or key=value string in `name`
 * (default `DATABASE_URL`, optional, read as a redacted secret), completed by the `PG*`
 * variables. Errors are `ConfigError`s that never include the password.
 *
 * @example
 * ```ts
 * import { PgConfig } from "@berth/pg"
 * import { ConfigProvider, Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const config = yield* PgConfig.config()
 *   console.log(config.hosts)
 * }).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["DATABASE_URL", "postgres://db/app"]]))))
 * ```
 *
 * @since 0.1.0
 */
export const config = (name = "DATABASE_URL"): Config.Config<PgConfig> => {
  const envConfig = Config.all(
    Object.fromEntries(
      envKeys.map(([envName]) =>
        [
          envName,
          Config.option(
            envName === "PGPASSWORD" ? Config.map(Config.redacted(envName), Redacted.value) : Config.string(envName)
          )
        ] as const
      )
    )
  )
  return Config.mapOrFail(
    Config.all([Config.option(Config.redacted(name)), envConfig]),
    ([url, vars]) => {
      const env: Record<string, string | undefined> = {}
      for (const [key, value] of Object.entries(vars)) {
        if (Option.isSome(value)) env[key] = value.value
      }
      const input = Option.isSome(url) ? Redacted.value(url.value) : ""
      return Either.mapLeft(
        parseEither(input, env),
        (e) => ConfigError.InvalidData([name], e.part === undefined ? e.message : `${e.message} at ${e.part}`)
      )
    }
  )
}

/**
 * A one-line description for logs and spans: user, hosts and database — never the password.
 *
 * @example
 * ```ts
 * import { PgConfig } from "@berth/pg"
 *
 * PgConfig.describe(PgConfig.make({ host: "db", user: "app", database: "shop" })) // "app@db:5432/shop"
 * ```
 *
 * @since 0.1.0
 */
export const describe = (config: PgConfig): string =>
  `${config.user}@${config.hosts.map((h) => `${h.host}:${h.port}`).join(",")}/${config.database}`
