/**
 * The startup phase: StartupMessage, authentication (trust, cleartext, MD5, SCRAM-SHA-256 and
 * SCRAM-SHA-256-PLUS), then ParameterStatus / BackendKeyData until the first ReadyForQuery.
 * Not a hot path, so it is written as a plain Effect over the core's message inbox.
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as tls from "node:tls"
import type { AuthMethod, PgConfig } from "../PgConfig.js"
import { PgAuthError, PgConfigError, PgConnectionError, type PgError, PgProtocolError } from "../PgError.js"
import type { Core, RawMessage } from "./core.js"
import { Backend, parseErrorFields, readCString, serverError } from "./messages.js"
import * as Scram from "./scram.js"
import { Frontend, PROTOCOL_3_0 } from "./writer.js"

const nextMessage = (core: Core): Effect.Effect<RawMessage, PgError> =>
  Effect.async<RawMessage, PgError>((resume) => {
    core.nextMessage((message) => {
      if (message !== undefined) resume(Effect.succeed(message))
      else {
        resume(Effect.fail(
          core.brokenBy ??
            new PgConnectionError({
              message: "the server closed the connection during startup",
              phase: "startup",
              host: core.options.hostLabel,
              cause: undefined
            })
        ))
      }
    })
    return Effect.sync(() => core.cancelNextMessage())
  })

const startupPacket = (core: Core, config: PgConfig): Effect.Effect<Buffer, PgConfigError> =>
  Effect.suspend(() => {
    const params: Array<readonly [string, string]> = [
      ["user", config.user],
      ["database", config.database],
      ["client_encoding", "UTF8"]
    ]
    if (config.applicationName !== undefined) params.push(["application_name", config.applicationName])
    if (config.options !== undefined) params.push(["options", config.options])
    for (const [k, v] of Object.entries(config.parameters)) params.push([k, v])
    const w = core.writer.begin(0).int32(PROTOCOL_3_0)
    for (const [k, v] of params) {
      if (k.includes("\0") || v.includes("\0")) {
        w.reset()
        return Effect.fail(
          new PgConfigError({ message: `startup parameter ${k} contains a NUL byte`, part: k, position: undefined })
        )
      }
      w.cstring(k).cstring(v)
    }
    return Effect.succeed(w.int8(0).end().flush())
  })

const methodNames: Record<number, string> = {
  2: "KerberosV5",
  6: "SCM credential",
  7: "GSSAPI",
  8: "GSSAPI",
  9: "SSPI"
}

const protocolError = (message: string) => new PgProtocolError({ message })

/** Runs the startup phase to the first ReadyForQuery. */
export const startup = (
  core: Core,
  config: PgConfig,
  password: Redacted.Redacted | undefined,
  secure: tls.TLSSocket | undefined
): Effect.Effect<void, PgError> =>
  Effect.gen(function*() {
    core.write(yield* startupPacket(core, config))
    let method: AuthMethod = "none"
    let channelBound = false
    const allowed = (m: AuthMethod, name: string) =>
      config.requireAuth === undefined || config.requireAuth.includes(m)
        ? Effect.void
        : Effect.fail(
          new PgAuthError({
            message: `the server requested ${name} authentication, which require_auth does not allow`,
            method: name
          })
        )
    const needPassword = (name: string) =>
      password === undefined
        ? Effect.fail(
          new PgAuthError({
            message: `the server requested ${name} authentication, but no password is configured`,
            method: name
          })
        )
        : Effect.succeed(Redacted.value(password) as string)

    while (true) {
      const msg = yield* nextMessage(core)
      const body = msg.body
      switch (msg.type) {
        case Backend.Authentication: {
          if (body.length < 4) return yield* Effect.fail(protocolError("truncated Authentication message"))
          const code = body.readInt32BE(0)
          if (code === 0) {
            if (channelBound === false && config.channelBinding === "require") {
              return yield* Effect.fail(
                new PgAuthError({
                  message: "channel_binding=require, but the server did not authenticate with SCRAM-SHA-256-PLUS",
                  method: method
                })
              )
            }
            yield* allowed(method, method)
            continue
          }
          if (code === 3) {
            method = "password"
            yield* allowed("password", "password (cleartext)")
            if (!config.allowCleartextPassword) {
              return yield* Effect.fail(
                new PgAuthError({
                  message:
                    "the server requested a cleartext password; refusing to send it (set allowCleartextPassword or require_auth=password to allow)",
                  method: "password"
                })
              )
            }
            const pw = yield* needPassword("password")
            core.write(core.writer.begin(Frontend.Password).cstring(pw).end().flush())
            continue
          }
          if (code === 5) {
            method = "md5"
            yield* allowed("md5", "md5")
            if (!config.allowMd5Password) {
              return yield* Effect.fail(
                new PgAuthError({
                  message:
                    "the server requested MD5 password authentication; refusing it (set allowMd5Password or require_auth=md5 to allow)",
                  method: "md5"
                })
              )
            }
            const pw = yield* needPassword("md5")
            if (body.length < 8) return yield* Effect.fail(protocolError("truncated MD5 salt"))
            core.write(
              core.writer.begin(Frontend.Password).cstring(Scram.md5Password(config.user, pw, body.subarray(4, 8)))
                .end().flush()
            )
            continue
          }
          if (code === 10) {
            method = "scram-sha-256"
            yield* allowed("scram-sha-256", "SCRAM-SHA-256")
            channelBound = yield* scram(core, config, body, secure, yield* needPassword("SCRAM-SHA-256"))
            continue
          }
          const name = methodNames[code] ?? `unknown (code ${code})`
          return yield* Effect.fail(
            new PgAuthError({
              message: `the server requested ${name} authentication, which is not supported`,
              method: name
            })
          )
        }
        case Backend.ErrorResponse:
          return yield* Effect.fail(serverError(parseErrorFields(body, 0, body.length), undefined))
        case Backend.ParameterStatus: {
          const [name, next] = readCString(body, 0, body.length)
          core.parameters.set(name, readCString(body, next, body.length)[0])
          continue
        }
        case Backend.BackendKeyData:
          if (body.length < 8) return yield* Effect.fail(protocolError("truncated BackendKeyData"))
          core.backendPid = body.readInt32BE(0)
          core.backendSecret = body.readInt32BE(4)
          continue
        case Backend.NoticeResponse:
          try {
            core.options.onNotice?.(parseErrorFields(body, 0, body.length))
          } catch {
            // a throwing callback must not fail the connection
          }
          continue
        case Backend.NegotiateProtocolVersion:
          // the server speaks an older minor version or ignores options we did not send: fine
          continue
        case Backend.ReadyForQuery:
          return
        default:
          return yield* Effect.fail(
            protocolError(`unexpected message '${String.fromCharCode(msg.type)}' during startup`)
          )
      }
    }
  }).pipe(
    Effect.catchAllDefect((defect) =>
      Effect.fail(
        protocolError(`malformed startup message: ${defect instanceof Error ? defect.message : String(defect)}`)
      )
    )
  )

/** The SASL exchange; returns whether channel binding was used. */
const scram = (
  core: Core,
  config: PgConfig,
  body: Buffer,
  secure: tls.TLSSocket | undefined,
  password: string
): Effect.Effect<boolean, PgError> =>
  Effect.gen(function*() {
    const mechanisms: Array<string> = []
    let pos = 4
    while (pos < body.length && body[pos] !== 0) {
      const [name, next] = readCString(body, pos, body.length)
      mechanisms.push(name)
      pos = next
    }
    const certificate = secure?.getPeerCertificate()?.raw
    const plus = mechanisms.includes("SCRAM-SHA-256-PLUS") && secure !== undefined &&
      config.channelBinding !== "disable" && certificate !== undefined
    if (!plus && config.channelBinding === "require") {
      return yield* Effect.fail(
        new PgAuthError({
          message: "channel_binding=require, but SCRAM-SHA-256-PLUS is not available (needs TLS and server support)",
          method: "SCRAM-SHA-256-PLUS"
        })
      )
    }
    if (!plus && !mechanisms.includes("SCRAM-SHA-256")) {
      return yield* Effect.fail(
        new PgAuthError({
          message: `none of the server's SASL mechanisms is supported: ${mechanisms.join(", ")}`,
          method: mechanisms.join(",")
        })
      )
    }
    const mechanism = plus ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256"
    // 'y': we could bind but the server did not offer it (protects against a downgrade)
    const flag = plus ? "p" : secure !== undefined && config.channelBinding !== "disable" ? "y" : "n"
    const state = Scram.start(mechanism, flag, plus ? Scram.serverEndPoint(certificate!) : undefined)
    const first = Buffer.from(state.clientFirst)
    core.write(core.writer.begin(Frontend.Password).cstring(mechanism).int32(first.length).bytes(first).end().flush())

    const cont = yield* nextMessage(core)
    if (cont.type === Backend.ErrorResponse) {
      return yield* Effect.fail(serverError(parseErrorFields(cont.body, 0, cont.body.length), undefined))
    }
    if (cont.type !== Backend.Authentication || cont.body.readInt32BE(0) !== 11) {
      return yield* Effect.fail(protocolError("expected AuthenticationSASLContinue"))
    }
    const final = yield* Effect.tryPromise({
      try: () => Scram.finish(state, cont.body.toString("utf8", 4), password),
      catch: (e) =>
        new PgAuthError({
          message: `SCRAM exchange failed: ${e instanceof Error ? e.message : String(e)}`,
          method: mechanism
        })
    })
    core.write(core.writer.begin(Frontend.Password).bytes(Buffer.from(final.clientFinal)).end().flush())

    const fin = yield* nextMessage(core)
    if (fin.type === Backend.ErrorResponse) {
      return yield* Effect.fail(serverError(parseErrorFields(fin.body, 0, fin.body.length), undefined))
    }
    if (fin.type !== Backend.Authentication || fin.body.readInt32BE(0) !== 12) {
      // a server that skips the final message has not proven it knows the password
      return yield* Effect.fail(
        new PgAuthError({ message: "the server did not complete SCRAM authentication", method: mechanism })
      )
    }
    const problem = Scram.verifyFinal(final, fin.body.toString("utf8", 4))
    if (problem !== undefined) return yield* Effect.fail(new PgAuthError({ message: problem, method: mechanism }))
    return plus
  })
