import * as PgConfig from "@berth/pg/PgConfig"
import * as PgConnection from "@berth/pg/PgConnection"
import type * as PgError from "@berth/pg/PgError"
import * as TestDatabase from "@berth/testing/TestDatabase"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Redacted } from "effect"
import * as OwnServer from "./fixtures/ownServer.js"

const reason = OwnServer.unavailable()
if (reason !== undefined) console.warn(`[pg auth tests] skipped: ${reason}`)

describe.skipIf(reason !== undefined)("authentication and TLS against a server the test owns", () => {
  let server: OwnServer.OwnServer
  beforeAll(async () => {
    server = await OwnServer.start({ ssl: true })
  }, 120_000)
  afterAll(() => server?.stop())

  const cfg = (options: PgConfig.MakeOptions) =>
    PgConfig.make({ host: "127.0.0.1", port: server.port, database: "postgres", sslmode: "disable", ...options })

  const connectAndAsk = (config: PgConfig.PgConfig) =>
    Effect.scoped(
      Effect.gen(function*() {
        const conn = yield* PgConnection.connect(config)
        const r = yield* conn.query(
          "select current_user as u, (select ssl from pg_stat_ssl where pid = pg_backend_pid()) as ssl"
        )
        return { user: r.rows[0]!.u, ssl: r.rows[0]!.ssl, tls: conn.tls }
      })
    )

  const failure = <A>(effect: Effect.Effect<A, PgError.PgError>) =>
    Effect.map(Effect.exit(effect), (exit) => {
      if (Exit.isSuccess(exit)) throw new Error("expected a failure")
      if (exit.cause._tag !== "Fail") throw new Error(`expected a typed failure, got ${exit.cause._tag}`)
      return exit.cause.error
    })

  it.effect("SCRAM-SHA-256 over plain TCP", () =>
    Effect.gen(function*() {
      const r = yield* connectAndAsk(cfg({ user: "scram_user", password: "scram_pw" }))
      expect(r).toEqual({ user: "scram_user", ssl: false, tls: false })
    }))

  it.effect("a wrong password is a typed server error (28P01) and never echoes the password", () =>
    Effect.gen(function*() {
      const e = yield* failure(connectAndAsk(cfg({ user: "scram_user", password: "wrong-secret-xyz" })))
      expect(e._tag).toBe("PgInvalidAuthorization")
      if (e._tag === "PgInvalidAuthorization") {
        expect(e.code).toBe("28P01")
        expect(e.condition).toBe("InvalidAuthorization")
      }
      expect(JSON.stringify(e)).not.toContain("wrong-secret-xyz")
      expect(String(e)).not.toContain("wrong-secret-xyz")
    }))

  it.effect("SCRAM passwords go through SASLprep exactly like the server's", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, string, string]> = [
        // [role, password stored, password typed]: the typed one needs preparation
        ["sasl_decomposed", "p\u00E1ss", "pa\u0301ss"], // NFKC composes it
        ["sasl_ligature", "file", "\uFB01le"], // compatibility mapping
        ["sasl_nbsp", "a b", "a\u00A0b"], // non-ASCII space maps to space
        ["sasl_soft_hyphen", "abc", "ab\u00ADc"], // mapped to nothing
        ["sasl_tab", "tab\there", "tab\there"], // prohibited: both sides use the raw bytes
        ["sasl_private", "\uE000\uFB01", "\uE000\uFB01"], // prohibited: raw, not NFKC-normalized
        ["sasl_plain", "plain ascii ~!", "plain ascii ~!"]
      ]
      for (const [role, stored] of cases) {
        server.psql(
          `set password_encryption = 'scram-sha-256'; create role ${role} login in role sasl_group password '${stored}'`
        )
      }
      for (const [role, , typed] of cases) {
        const r = yield* connectAndAsk(cfg({ user: role, password: typed }))
        expect(r.user).toBe(role)
      }
      const wrong = yield* failure(connectAndAsk(cfg({ user: "sasl_tab", password: "tab here" })))
      expect(wrong._tag === "PgInvalidAuthorization" && wrong.code).toBe("28P01")
    }))

  it.effect("a password from an Effect is evaluated at every connect (rotating credentials)", () =>
    Effect.gen(function*() {
      let calls = 0
      const password = Effect.sync(() => {
        calls++
        return Redacted.make("scram_pw")
      })
      const config = cfg({ user: "scram_user", password })
      yield* connectAndAsk(config)
      yield* connectAndAsk(config)
      expect(calls).toBe(2)
    }))

  it.effect("SCRAM without a configured password is a PgAuthError", () =>
    Effect.gen(function*() {
      const e = yield* failure(connectAndAsk(cfg({ user: "scram_user" })))
      expect(e._tag).toBe("PgAuthError")
      expect(e.message).toContain("no password")
    }))

  it.effect("MD5 is refused by default and works when allowed", () =>
    Effect.gen(function*() {
      const e = yield* failure(connectAndAsk(cfg({ user: "md5_user", password: "md5_pw" })))
      expect(e._tag).toBe("PgAuthError")
      if (e._tag === "PgAuthError") expect(e.method).toBe("md5")
      expect(e.message).toContain("allowMd5Password")
      const r = yield* connectAndAsk(cfg({ user: "md5_user", password: "md5_pw", allowMd5Password: true }))
      expect(r.user).toBe("md5_user")
      const wrong = yield* failure(connectAndAsk(cfg({ user: "md5_user", password: "nope", allowMd5Password: true })))
      expect(wrong._tag === "PgInvalidAuthorization" && wrong.code).toBe("28P01")
    }))

  it.effect("cleartext is refused by default and works when allowed (require_auth=password)", () =>
    Effect.gen(function*() {
      const e = yield* failure(connectAndAsk(cfg({ user: "clear_user", password: "clear_pw" })))
      expect(e._tag).toBe("PgAuthError")
      if (e._tag === "PgAuthError") expect(e.method).toBe("password")
      const config = yield* PgConfig.parse(
        `postgres://clear_user:clear_pw@127.0.0.1:${server.port}/postgres?sslmode=disable&require_auth=password`,
        {}
      )
      expect((yield* connectAndAsk(config)).user).toBe("clear_user")
    }))

  it.effect("require_auth rejects a method it does not list", () =>
    Effect.gen(function*() {
      const config = yield* PgConfig.parse(
        `host=127.0.0.1 port=${server.port} dbname=postgres user=postgres sslmode=disable require_auth=scram-sha-256`,
        {}
      )
      const e = yield* failure(connectAndAsk(config))
      expect(e._tag).toBe("PgAuthError")
    }))

  it.effect("an unsupported method (GSSAPI) is a typed error naming it", () =>
    Effect.gen(function*() {
      const e = yield* failure(connectAndAsk(cfg({ user: "gss_user", password: "x" })))
      expect(e._tag).toBe("PgAuthError")
      if (e._tag === "PgAuthError") expect(e.method).toBe("GSSAPI")
    }))

  it.effect("unknown user and unknown database are typed server errors", () =>
    Effect.gen(function*() {
      const noUser = yield* failure(connectAndAsk(cfg({ user: "nobody_here", password: "x" })))
      expect(noUser._tag === "PgInvalidAuthorization" && noUser.code).toBe("28000")
      const noDb = yield* failure(connectAndAsk(cfg({ user: "postgres", database: "no_such_db" })))
      expect(noDb._tag === "PgServerError" && noDb.code).toBe("3D000")
    }))

  it.effect("sslmode=require encrypts; verify-full checks the CA and the host name", () =>
    Effect.gen(function*() {
      const r = yield* connectAndAsk(cfg({ user: "scram_user", password: "scram_pw", sslmode: "require" }))
      expect(r).toEqual({ user: "scram_user", ssl: true, tls: true })
      const full = yield* connectAndAsk(
        cfg({
          host: "localhost",
          user: "scram_user",
          password: "scram_pw",
          sslmode: "verify-full",
          sslrootcert: server.certs.ca
        })
      )
      expect(full.ssl).toBe(true)
      const wrongCa = yield* failure(
        connectAndAsk(
          cfg({ user: "scram_user", password: "scram_pw", sslmode: "verify-ca", sslrootcert: server.certs.otherCa })
        )
      )
      expect(wrongCa._tag === "PgConnectionError" && wrongCa.phase).toBe("tls")
      const wrongName = yield* failure(
        connectAndAsk(
          cfg({
            host: "localhost",
            user: "scram_user",
            password: "scram_pw",
            sslmode: "verify-full",
            sslrootcert: server.certs.ca,
            tls: { servername: "not-the-server.example" }
          })
        )
      )
      expect(wrongName._tag === "PgConnectionError" && wrongName.phase).toBe("tls")
      // without a CA file, verify-full uses the system store, which does not know our CA
      const untrusted = yield* failure(
        connectAndAsk(
          cfg({
            host: "localhost",
            user: "scram_user",
            password: "scram_pw",
            sslmode: "verify-full",
            sslrootcert: "system"
          })
        )
      )
      expect(untrusted._tag).toBe("PgConnectionError")
    }))

  it.effect("the connection string form: verify-full with sslrootcert", () =>
    Effect.gen(function*() {
      const config = yield* PgConfig.parse(
        `postgres://scram_user:scram_pw@localhost:${server.port}/postgres?sslmode=verify-full&sslrootcert=${
          encodeURIComponent(server.certs.ca)
        }`,
        {}
      )
      expect((yield* connectAndAsk(config)).ssl).toBe(true)
    }))

  it.effect("SCRAM-SHA-256-PLUS channel binding over TLS (channel_binding=require)", () =>
    Effect.gen(function*() {
      const r = yield* connectAndAsk(
        cfg({ user: "scram_user", password: "scram_pw", sslmode: "require", channelBinding: "require" })
      )
      expect(r.ssl).toBe(true)
      const plain = yield* failure(
        connectAndAsk(cfg({ user: "scram_user", password: "scram_pw", sslmode: "disable", channelBinding: "require" }))
      )
      expect(plain._tag).toBe("PgAuthError")
      const trust = yield* failure(
        connectAndAsk(cfg({ user: "postgres", sslmode: "require", channelBinding: "require" }))
      )
      expect(trust._tag).toBe("PgAuthError")
    }))

  it.effect("client certificate authentication", () =>
    Effect.gen(function*() {
      const r = yield* connectAndAsk(
        cfg({
          host: "localhost",
          user: "certuser",
          sslmode: "verify-full",
          sslrootcert: server.certs.ca,
          sslcert: server.certs.clientCert,
          sslkey: server.certs.clientKey
        })
      )
      expect(r.user).toBe("certuser")
      const noCert = yield* failure(connectAndAsk(cfg({ user: "certuser", sslmode: "require" })))
      expect(noCert._tag === "PgInvalidAuthorization" && noCert.code).toBe("28000")
      const missingFile = yield* failure(
        connectAndAsk(cfg({ user: "certuser", sslmode: "require", sslcert: "/nonexistent/client.crt" }))
      )
      expect(missingFile._tag).toBe("PgConfigError")
      // a file that is not PEM: a typed error, not a crash
      const notPem = yield* failure(
        connectAndAsk(
          cfg({ user: "scram_user", password: "scram_pw", sslmode: "verify-ca", sslrootcert: "/etc/hostname" })
        )
      )
      expect(notPem._tag).toBe("PgConnectionError")
      const badKey = yield* failure(
        connectAndAsk(
          cfg({ user: "certuser", sslmode: "require", sslcert: server.certs.clientCert, sslkey: server.certs.ca })
        )
      )
      expect(badKey._tag).toBe("PgConnectionError")
    }))

  it.effect("sslmode allow / prefer / disable against hostssl and hostnossl rules", () =>
    Effect.gen(function*() {
      const disabled = yield* failure(connectAndAsk(cfg({ user: "ssl_only", password: "ssl_pw", sslmode: "disable" })))
      expect(disabled._tag === "PgInvalidAuthorization" && disabled.code).toBe("28000")
      // allow: plain first, then TLS after the pg_hba rejection
      const allowed = yield* connectAndAsk(cfg({ user: "ssl_only", password: "ssl_pw", sslmode: "allow" }))
      expect(allowed.ssl).toBe(true)
      const preferred = yield* connectAndAsk(cfg({ user: "ssl_only", password: "ssl_pw", sslmode: "prefer" }))
      expect(preferred.ssl).toBe(true)
      const noSsl = yield* failure(connectAndAsk(cfg({ user: "nossl_user", sslmode: "require" })))
      expect(noSsl._tag === "PgInvalidAuthorization" && noSsl.code).toBe("28000")
    }))

  it.effect("TLS required but the server has none: typed error", () =>
    Effect.gen(function*() {
      // the harness server runs without TLS (PostgreSQL 15 on the machine and the embedded one)
      const db = TestDatabase.current()
      const ssl = yield* Effect.scoped(
        Effect.flatMap(
          PgConnection.connect(
            PgConfig.make({
              host: db.host,
              port: db.port,
              user: db.user,
              database: db.database,
              password: db.password,
              sslmode: "disable"
            })
          ),
          (c) => c.simpleQuery("show ssl")
        )
      )
      if (ssl[0]?.rows[0]?.ssl === "on") return
      const e = yield* failure(
        connectAndAsk(
          PgConfig.make({
            host: db.host,
            port: db.port,
            user: db.user,
            database: db.database,
            password: db.password,
            sslmode: "require"
          })
        )
      )
      expect(e._tag).toBe("PgConnectionError")
      expect(e.message).toContain("does not support TLS")
    }))

  it.live("Unix socket connection, with cancellation over the socket", () =>
    Effect.gen(function*() {
      const r = yield* connectAndAsk(cfg({ host: server.socketDir, user: "postgres" }))
      expect(r.user).toBe("postgres")
      yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* PgConnection.connect(cfg({ host: server.socketDir, user: "postgres" }))
        const timedOut = yield* conn.query("select pg_sleep(30)").pipe(Effect.timeout("100 millis"), Effect.option)
        expect(timedOut._tag).toBe("None")
        yield* conn.awaitReady
        expect(conn.isBroken).toBe(false)
        expect((yield* conn.query("select 1 as one")).rows).toEqual([{ one: 1 }])
      }))
    }))

  it.effect("multi-host lists and target_session_attrs", () =>
    Effect.gen(function*() {
      const closedPort = server.port === 1 ? 2 : 1
      const base =
        `host=127.0.0.1,127.0.0.1 port=${closedPort},${server.port} dbname=postgres user=postgres sslmode=disable`
      const first = yield* connectAndAsk(yield* PgConfig.parse(base, {}))
      expect(first.user).toBe("postgres")
      const rw = yield* connectAndAsk(yield* PgConfig.parse(`${base} target_session_attrs=read-write`, {}))
      expect(rw.user).toBe("postgres")
      const primary = yield* connectAndAsk(yield* PgConfig.parse(`${base} target_session_attrs=prefer-standby`, {}))
      expect(primary.user).toBe("postgres")
      const standby = yield* failure(connectAndAsk(yield* PgConfig.parse(`${base} target_session_attrs=standby`, {})))
      expect(standby._tag).toBe("PgConnectionError")
      expect(standby.message).toContain("target_session_attrs=standby")
      const ro = yield* connectAndAsk(
        yield* PgConfig.parse(
          `${base} target_session_attrs=read-only options='-c default_transaction_read_only=on'`,
          {}
        )
      )
      expect(ro.user).toBe("postgres")
    }))

  it.live("a server restarted mid-query: typed error, connection broken, reconnect works", () =>
    Effect.gen(function*() {
      const config = cfg({ user: "postgres" })
      yield* Effect.scoped(
        Effect.gen(function*() {
          const conn = yield* PgConnection.connect(config)
          const fiber = yield* Effect.fork(failure(conn.query("select pg_sleep(30)")))
          yield* Effect.sleep("300 millis")
          yield* Effect.sync(() => server.restart())
          const e = yield* fiber.await.pipe(Effect.flatten)
          // the server says "terminating connection due to administrator command" (57P01)
          expect(e._tag).toBe("PgAdminShutdown")
          if (e._tag === "PgAdminShutdown") expect([e.code, e.condition]).toEqual(["57P01", "AdminShutdown"])
          expect(conn.isBroken).toBe(true)
          const again = yield* failure(conn.query("select 1"))
          expect(again._tag).toBe("PgConnectionError")
        })
      )
      const r = yield* connectAndAsk(config)
      expect(r.user).toBe("postgres")
    }))
})
