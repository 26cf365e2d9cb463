import * as PgConfig from "@berth/pg/PgConfig"
import type * as PgError from "@berth/pg/PgError"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Either, Redacted } from "effect"
import * as FastCheck from "effect/FastCheck"

const ok = (input: string, env: Record<string, string | undefined> = {}) => {
  const r = PgConfig.parseEither(input, env)
  if (Either.isLeft(r)) throw new Error(`unexpected error: ${r.left.message}`)
  return r.right
}

const bad = (input: string, env: Record<string, string | undefined> = {}): PgError.PgConfigError => {
  const r = PgConfig.parseEither(input, env)
  if (Either.isRight(r)) throw new Error("expected a PgConfigError")
  expect(r.left._tag).toBe("PgConfigError")
  return r.left
}

const pw = (c: PgConfig.PgConfig) => (Redacted.isRedacted(c.password) ? Redacted.value(c.password) : undefined)

describe("PgConfig.parse: URLs", () => {
  it("reads every part of a URL", () => {
    const c = ok(
      "postgresql://app:s%40cret@db.example:6543/shop?sslmode=verify-full&application_name=api&connect_timeout=10"
    )
    expect(c.hosts).toEqual([{ host: "db.example", port: 6543 }])
    expect([c.user, pw(c), c.database, c.sslmode, c.applicationName]).toEqual([
      "app",
      "s@cret",
      "shop",
      "verify-full",
      "api"
    ])
    expect(Duration.toSeconds(c.connectTimeout!)).toBe(10)
  })

  it("multi-host URLs, IPv6 and Unix socket directories", () => {
    expect(ok("postgres://a:1,b:2,c/db").hosts).toEqual([
      { host: "a", port: 1 },
      { host: "b", port: 2 },
      { host: "c", port: 5432 }
    ])
    expect(ok("postgres://[::1]:5433,[fe80::1]/db").hosts).toEqual([{ host: "::1", port: 5433 }, {
      host: "fe80::1",
      port: 5432
    }])
    expect(ok("postgres://%2Fvar%2Frun%2Fpostgresql/db").hosts).toEqual([{ host: "/var/run/postgresql", port: 5432 }])
    expect(ok("postgresql:///db?host=/tmp&port=5999").hosts).toEqual([{ host: "/tmp", port: 5999 }])
  })

  it("libpq defaults: localhost:5432, sslmode=prefer, database = user", () => {
    const c = ok("postgres://someone@/")
    expect(c.hosts).toEqual([{ host: "localhost", port: 5432 }])
    expect([c.user, c.database, c.sslmode, c.targetSessionAttrs, c.channelBinding]).toEqual([
      "someone",
      "someone",
      "prefer",
      "any",
      "prefer"
    ])
    expect(c.allowCleartextPassword).toBe(false)
    expect(c.allowMd5Password).toBe(false)
  })

  it("unknown keys become startup parameters", () => {
    const c = ok("postgres://u@h/d?search_path=app,public&statement_timeout=5s&options=-c%20geqo%3Doff")
    expect(c.parameters).toEqual({ search_path: "app,public", statement_timeout: "5s" })
    expect(c.options).toBe("-c geqo=off")
  })

  it("bad parts are typed errors pointing at them", () => {
    const port = bad("postgres://u@host:54x2/db")
    expect(port.message).toContain("port")
    expect(port.position).toBeGreaterThan(0)
    const mode = bad("postgres://u@h/d?sslmode=maybe")
    expect(mode.part).toBe("sslmode=maybe")
    expect(mode.position).toBe("postgres://u@h/d?".length)
    expect(bad("postgres://u@h/d?target_session_attrs=whatever").part).toContain("target_session_attrs")
    expect(bad("postgres://u@h/d?connect_timeout=soon").part).toBe("connect_timeout=soon")
    expect(bad("postgres://[::1/d").message).toContain("IPv6")
    expect(bad("postgres://u@h/d#frag").message).toContain("fragment")
    expect(bad("postgres://u@h/d?service=x").message).toContain("not supported")
    expect(bad("postgres://u@h/d?client_encoding=LATIN1").message).toContain("UTF8")
  })

  it("never puts the password in an error", () => {
    const secret = "p%ZZassw0rd-secret"
    const e = bad(`postgres://u:${secret}@h/d`)
    expect(e.message).toContain("password")
    expect(JSON.stringify(e)).not.toContain("assw0rd-secret")
    const kv = bad("user=u password='unterminated-secret-value")
    expect(JSON.stringify(kv)).not.toContain("unterminated-secret-value")
    expect(String(kv)).not.toContain("unterminated-secret-value")
    const c = ok("postgres://u:topsecret@h/d")
    expect(JSON.stringify(c)).not.toContain("topsecret")
    expect(String(c.password)).not.toContain("topsecret")
    expect(PgConfig.describe(c)).toBe("u@h:5432/d")
  })
})

describe("PgConfig.parse: key=value", () => {
  it("reads quoted values, escapes and spaces around =", () => {
    const c = ok("host = db  port=5433 dbname='my db' user=app password='it\\'s \\\\ secret' application_name=x")
    expect(c.hosts).toEqual([{ host: "db", port: 5433 }])
    expect([c.database, c.user, pw(c), c.applicationName]).toEqual(["my db", "app", "it's \\ secret", "x"])
  })

  it("multi-host lists: one port for all, or one per host; mismatches are errors", () => {
    expect(ok("host=a,b port=1,2").hosts).toEqual([{ host: "a", port: 1 }, { host: "b", port: 2 }])
    expect(ok("host=a,b port=7").hosts).toEqual([{ host: "a", port: 7 }, { host: "b", port: 7 }])
    expect(bad("host=a,b,c port=1,2").message).toContain("3 hosts")
    expect(bad("host=a port=70000").part).toBe("port=70000")
  })

  it("syntax errors point at the key", () => {
    const e = bad("host=a port")
    expect(e.part).toBe("port")
    expect(e.position).toBe(7)
  })

  it("connect_timeout follows libpq: minimum 2 s, 0 = forever", () => {
    expect(Duration.toSeconds(ok("connect_timeout=1").connectTimeout!)).toBe(2)
    expect(Duration.isFinite(ok("connect_timeout=0").connectTimeout!)).toBe(false)
    expect(ok("").connectTimeout).toBeUndefined()
  })

  it("require_auth enables cleartext / MD5 and accepts negation", () => {
    const c = ok("require_auth=md5,scram-sha-256")
    expect([c.allowMd5Password, c.allowCleartextPassword, c.requireAuth]).toEqual([true, false, [
      "md5",
      "scram-sha-256"
    ]])
    const n = ok("require_auth=!password")
    expect(n.requireAuth).not.toContain("password")
    expect(n.allowMd5Password).toBe(true)
    expect(bad("require_auth=kerberos").part).toContain("require_auth")
    expect(bad("require_auth=md5,!password").message).toContain("mix")
  })

  it("every sslmode, channel_binding and target_session_attrs value", () => {
    for (const mode of ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] as const) {
      expect(ok(`sslmode=${mode}`).sslmode).toBe(mode)
    }
    for (const t of ["any", "read-write", "read-only", "primary", "standby", "prefer-standby"] as const) {
      expect(ok(`target_session_attrs=${t}`).targetSessionAttrs).toBe(t)
    }
    expect(ok("channel_binding=require").channelBinding).toBe("require")
    expect(ok("ssl=true").sslmode).toBe("require")
    const files = ok("sslrootcert=/ca.crt sslcert=/c.crt sslkey=/c.key sslpassword=kp ssl_min_protocol_version=TLSv1.3")
    expect([files.sslrootcert, files.sslcert, files.sslkey, files.sslMinProtocolVersion]).toEqual([
      "/ca.crt",
      "/c.crt",
      "/c.key",
      "TLSv1.3"
    ])
    expect(Redacted.value(files.sslpassword!)).toBe("kp")
  })
})

describe("PgConfig: environment", () => {
  const env = {
    PGHOST: "envhost",
    PGPORT: "6000",
    PGUSER: "envuser",
    PGPASSWORD: "envpw",
    PGDATABASE: "envdb",
    PGSSLMODE: "require",
    PGAPPNAME: "envapp",
    PGCONNECT_TIMEOUT: "7",
    PGTARGETSESSIONATTRS: "read-write",
    PGOPTIONS: "-c work_mem=64MB"
  }

  it("PG* variables fill what the string does not set", () => {
    const c = ok("", env)
    expect(c.hosts).toEqual([{ host: "envhost", port: 6000 }])
    expect([c.user, pw(c), c.database, c.sslmode, c.applicationName, c.targetSessionAttrs, c.options]).toEqual([
      "envuser",
      "envpw",
      "envdb",
      "require",
      "envapp",
      "read-write",
      "-c work_mem=64MB"
    ])
    expect(Duration.toSeconds(c.connectTimeout!)).toBe(7)
  })

  it("the string wins over the environment; a host in the string drops PGPORT too", () => {
    const c = ok("postgres://other@h2/db2?sslmode=disable", env)
    expect(c.hosts).toEqual([{ host: "h2", port: 5432 }])
    expect([c.user, pw(c), c.database, c.sslmode]).toEqual(["other", "envpw", "db2", "disable"])
  })

  it("a bad variable is an error naming it as coming from the environment", () => {
    const e = bad("", { PGSSLMODE: "sometimes" })
    expect(e.message).toContain("environment")
    expect(e.part).toBe("sslmode=sometimes")
  })

  it.effect("PgConfig.config reads DATABASE_URL and PG* through Effect Config", () =>
    Effect.gen(function*() {
      const provider = ConfigProvider.fromMap(
        new Map([["DATABASE_URL", "postgres://app:pw@db:5433/shop"], ["PGAPPNAME", "from-env"]])
      )
      const c = yield* Effect.withConfigProvider(PgConfig.config(), provider)
      expect([c.hosts[0], c.user, pw(c), c.database, c.applicationName]).toEqual([
        { host: "db", port: 5433 },
        "app",
        "pw",
        "shop",
        "from-env"
      ])
      const named = yield* Effect.withConfigProvider(
        PgConfig.config("REPLICA_URL"),
        ConfigProvider.fromMap(new Map([["REPLICA_URL", "host=r1"], ["PGHOST", "ignored"]]))
      )
      expect(named.hosts).toEqual([{ host: "r1", port: 5432 }])
      const onlyEnv = yield* Effect.withConfigProvider(
        PgConfig.config(),
        ConfigProvider.fromMap(new Map([["PGHOST", "h"], ["PGPASSWORD", "x"]]))
      )
      expect([onlyEnv.hosts[0]!.host, pw(onlyEnv)]).toEqual(["h", "x"])
      const failed = yield* Effect.flip(
        Effect.withConfigProvider(
          PgConfig.config(),
          ConfigProvider.fromMap(new Map([["DATABASE_URL", "postgres://u:hunter2-secret@h/d?sslmode=bogus"]]))
        )
      )
      expect(String(failed)).toContain("sslmode")
      expect(String(failed)).not.toContain("hunter2-secret")
    }))
})

describe("PgConfig.make", () => {
  it("builds a config with libpq defaults and no environment", () => {
    const c = PgConfig.make({ host: "h", user: "u", password: "p", connectTimeout: "5 seconds" })
    expect(c.hosts).toEqual([{ host: "h", port: 5432 }])
    expect([c.database, c.sslmode, pw(c)]).toEqual(["u", "prefer", "p"])
    expect(Duration.toSeconds(c.connectTimeout!)).toBe(5)
    const multi = PgConfig.make({ hosts: [{ host: "a" }, { host: "b", port: 2 }], port: 9 })
    expect(multi.hosts).toEqual([{ host: "a", port: 9 }, { host: "b", port: 2 }])
  })
})

describe("PgConfig properties", () => {
  it("any user, password, host and database survive a percent-encoded URL", () => {
    const text = FastCheck.string({ minLength: 1, maxLength: 20 })
    const hostName = FastCheck.stringMatching(/^[a-z][a-z0-9.-]{0,20}$/)
    FastCheck.assert(
      FastCheck.property(
        text,
        text,
        hostName,
        text,
        FastCheck.integer({ min: 1, max: 65535 }),
        (user, password, host, db, port) => {
          const url = `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${
            encodeURIComponent(db)
          }`
          const c = ok(url)
          expect([c.user, pw(c), c.hosts, c.database]).toEqual([user, password, [{ host, port }], db])
        }
      )
    )
  })

  it("any value survives a quoted key=value string", () => {
    FastCheck.assert(
      FastCheck.property(FastCheck.string({ maxLength: 30 }), (value) => {
        const quoted = `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`
        const c = ok(`host=h application_name=${quoted} user=u`)
        expect(c.applicationName ?? "").toBe(value)
      })
    )
  })

  it("no input ever throws: every failure is a PgConfigError", () => {
    FastCheck.assert(
      FastCheck.property(
        FastCheck.oneof(FastCheck.string(), FastCheck.string().map((s) => `postgres://${s}`)),
        (input) => {
          const r = PgConfig.parseEither(input, {})
          if (Either.isLeft(r)) expect(r.left._tag).toBe("PgConfigError")
        }
      )
    )
  })
})
