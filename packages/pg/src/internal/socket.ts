/**
 * Opening the transport: TCP or Unix socket, then the optional SSLRequest / TLS handshake with
 * libpq's sslmode semantics.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as tls from "node:tls"
import type { HostPort, PgConfig } from "../PgConfig.js"
import { PgConfigError, PgConnectionError, type PgError, PgProtocolError } from "../PgError.js"
import { sslRequest } from "./writer.js"

const ignore = (): void => {}

export const hostLabel = (hp: HostPort): string =>
  hp.host.startsWith("/") ? `${hp.host}/.s.PGSQL.${hp.port}` : `${hp.host}:${hp.port}`

/** Opens a TCP or Unix socket; destroyed if the effect is interrupted. */
export const openSocket = (config: PgConfig, hp: HostPort): Effect.Effect<net.Socket, PgConnectionError> =>
  Effect.async<net.Socket, PgConnectionError>((resume) => {
    const socket = hp.host.startsWith("/")
      ? net.connect({ path: `${hp.host}/.s.PGSQL.${hp.port}` })
      : net.connect({ host: hp.host, port: hp.port })
    const onError = (err: Error) => {
      socket.destroy()
      resume(
        Effect.fail(
          new PgConnectionError({
            message: `could not connect to ${hostLabel(hp)}: ${err.message}`,
            phase: "connect",
            host: hostLabel(hp),
            cause: err
          })
        )
      )
    }
    socket.once("error", onError)
    socket.once("connect", () => {
      socket.off("error", onError)
      // until the connection core attaches its own handlers, an error must not crash the
      // process; the core sees the socket destroyed when it attaches
      socket.on("error", ignore)
      if (!hp.host.startsWith("/")) {
        socket.setNoDelay(true)
        if (config.keepAlive) socket.setKeepAlive(true, Duration.toMillis(config.keepAliveInitialDelay))
      }
      resume(Effect.succeed(socket))
    })
    return Effect.sync(() => socket.destroy())
  })

const readFile = (file: string, key: string): Effect.Effect<Buffer, PgConfigError> =>
  Effect.try({
    try: () => fs.readFileSync(file),
    catch: (e) =>
      new PgConfigError({
        message: `cannot read the ${key} file ${file}: ${e instanceof Error ? e.message : String(e)}`,
        part: key,
        position: undefined
      })
  })

/** Node TLS options for a host, following libpq's sslmode / sslrootcert / sslcert / sslkey. */
export const tlsOptions = (config: PgConfig, hp: HostPort): Effect.Effect<tls.ConnectionOptions, PgConfigError> =>
  Effect.gen(function*() {
    const defaultRoot = path.join(os.homedir(), ".postgresql", "root.crt")
    const rootFile = config.sslrootcert ?? (fs.existsSync(defaultRoot) ? defaultRoot : undefined)
    // libpq: `require` with an explicit root certificate behaves like verify-ca
    const mode = config.sslmode === "require" && config.sslrootcert !== undefined ? "verify-ca" : config.sslmode
    const verify = mode === "verify-ca" || mode === "verify-full"
    const options: tls.ConnectionOptions = {
      rejectUnauthorized: verify,
      minVersion: config.sslMinProtocolVersion ?? "TLSv1.2",
      ...(config.sslMaxProtocolVersion !== undefined ? { maxVersion: config.sslMaxProtocolVersion } : {})
    }
    if (verify && rootFile !== undefined && rootFile !== "system") {
      options.ca = yield* readFile(rootFile, "sslrootcert")
    }
    if (mode === "verify-ca") options.checkServerIdentity = () => undefined
    else options.host = hp.host
    if (config.sslsni && !net.isIP(hp.host) && !hp.host.startsWith("/")) options.servername = hp.host
    if (config.sslcert !== undefined) options.cert = yield* readFile(config.sslcert, "sslcert")
    if (config.sslkey !== undefined) options.key = yield* readFile(config.sslkey, "sslkey")
    if (config.sslpassword !== undefined) options.passphrase = Redacted.value(config.sslpassword) as string
    return { ...options, ...config.tls }
  })

/**
 * Sends SSLRequest and upgrades to TLS when the server agrees. `required`: a refusal is an
 * error (sslmode require/verify-*); otherwise the plain socket is returned.
 */
export const negotiateTls = (
  socket: net.Socket,
  options: tls.ConnectionOptions,
  hp: HostPort,
  required: boolean
): Effect.Effect<net.Socket | tls.TLSSocket, PgError> =>
  Effect.async<net.Socket | tls.TLSSocket, PgError>((resume) => {
    const label = hostLabel(hp)
    let upgraded: tls.TLSSocket | undefined
    const fail = (e: PgError) => {
      cleanup()
      upgraded?.destroy()
      socket.destroy()
      resume(Effect.fail(e))
    }
    const onClose = () =>
      fail(
        new PgConnectionError({
          message: "the server closed the connection during TLS negotiation",
          phase: "tls",
          host: label,
          cause: undefined
        })
      )
    const onError = (err: Error) =>
      fail(
        new PgConnectionError({
          message: `TLS negotiation failed: ${err.message}`,
          phase: "tls",
          host: label,
          cause: err
        })
      )
    const cleanup = () => {
      socket.pause()
      socket.off("data", onData)
      socket.off("close", onClose)
      socket.off("error", onError)
    }
    const onData = (chunk: Buffer) => {
      cleanup()
      const answer = chunk[0]
      if (chunk.length > 1) {
        // bytes after the answer were not protected by TLS (CVE-2021-23222): refuse them
        return fail(new PgProtocolError({ message: "unexpected data after the server's SSLRequest answer" }))
      }
      if (answer === 0x4e /* N */) {
        if (required) {
          return fail(
            new PgConnectionError({
              message: `the server at ${label} does not support TLS, but sslmode requires it`,
              phase: "tls",
              host: label,
              cause: undefined
            })
          )
        }
        return resume(Effect.succeed(socket))
      }
      if (answer !== 0x53 /* S */) {
        return fail(new PgProtocolError({ message: `invalid answer 0x${(answer ?? 0).toString(16)} to SSLRequest` }))
      }
      let secure: tls.TLSSocket
      try {
        secure = tls.connect({ ...options, socket })
      } catch (e) {
        // invalid certificates/keys/options throw synchronously from createSecureContext
        return fail(
          new PgConnectionError({
            message: `invalid TLS configuration: ${e instanceof Error ? e.message : String(e)}`,
            phase: "tls",
            host: label,
            cause: e
          })
        )
      }
      upgraded = secure
      const onTlsError = (err: Error) => {
        secure.destroy()
        socket.destroy()
        resume(
          Effect.fail(
            new PgConnectionError({
              message: `TLS handshake failed: ${err.message}`,
              phase: "tls",
              host: label,
              cause: err
            })
          )
        )
      }
      secure.once("error", onTlsError)
      secure.once("secureConnect", () => {
        secure.off("error", onTlsError)
        secure.on("error", ignore)
        resume(Effect.succeed(secure))
      })
    }
    socket.on("data", onData)
    socket.once("close", onClose)
    socket.once("error", onError)
    socket.write(sslRequest())
    return Effect.sync(() => {
      cleanup()
      upgraded?.destroy()
      socket.destroy()
    })
  })
