/**
 * Tokenizers for libpq connection strings: `postgres://` URLs and `key=value` lists. They only
 * split the input into settings (with the offset of each, for error messages); interpreting the
 * values is PgConfig's job. Errors never quote the password.
 */
import { PgConfigError } from "../PgError.js"

/** One setting as written in the input. */
export interface Setting {
  readonly value: string
  readonly position: number
}

export type Settings = Map<string, Setting>

/** libpq's aliases: URL query parameters may use either name. */
const aliases: Record<string, string> = {
  dbname: "dbname",
  database: "dbname",
  username: "user",
  ssl: "ssl"
}

const canonical = (key: string): string => aliases[key] ?? key

const fail = (message: string, part: string | undefined, position: number | undefined): never => {
  throw new PgConfigError({ message, part, position })
}

const decodePercent = (text: string, what: string, position: number, secret: boolean): string => {
  try {
    return decodeURIComponent(text)
  } catch {
    return fail(`invalid percent-encoding in ${what}`, secret ? undefined : text, position)
  }
}

/** Whether the input looks like a URL rather than a key=value list. */
export const isUrl = (input: string): boolean => /^postgres(?:ql)?:\/\//i.test(input.trimStart())

/**
 * Splits `postgres://user:password@host1:port1,host2:port2/dbname?key=value&...`.
 * Hosts may be `[ipv6]` or percent-encoded Unix socket directories (`%2Fvar%2Frun%2Fpostgresql`).
 */
export const parseUrl = (input: string): Settings => {
  const settings: Settings = new Map()
  const offset = input.length - input.trimStart().length
  const text = input.trim()
  const schemeEnd = text.indexOf("://") + 3
  let rest = text.slice(schemeEnd)
  let pos = offset + schemeEnd

  const queryAt = rest.indexOf("?")
  const query = queryAt >= 0 ? rest.slice(queryAt + 1) : undefined
  const queryPos = pos + queryAt + 1
  if (queryAt >= 0) rest = rest.slice(0, queryAt)

  const fragmentAt = rest.indexOf("#")
  if (fragmentAt >= 0) fail("a connection URL cannot have a fragment (#)", rest.slice(fragmentAt), pos + fragmentAt)

  // userinfo: the LAST '@' before the path separates it (a password may contain '@' only encoded,
  // but be lenient like libpq).
  const slashAt = rest.indexOf("/")
  const authority = slashAt >= 0 ? rest.slice(0, slashAt) : rest
  const path = slashAt >= 0 ? rest.slice(slashAt + 1) : undefined
  const at = authority.lastIndexOf("@")
  let hostPart = authority
  let hostPos = pos
  if (at >= 0) {
    const userinfo = authority.slice(0, at)
    const colon = userinfo.indexOf(":")
    const user = colon >= 0 ? userinfo.slice(0, colon) : userinfo
    if (user !== "") settings.set("user", { value: decodePercent(user, "user name", pos, false), position: pos })
    if (colon >= 0) {
      const passwordPos = pos + colon + 1
      settings.set("password", {
        value: decodePercent(userinfo.slice(colon + 1), "password", passwordPos, true),
        position: passwordPos
      })
    }
    hostPart = authority.slice(at + 1)
    hostPos = pos + at + 1
  }

  if (hostPart !== "") {
    const hosts: Array<string> = []
    const ports: Array<string> = []
    let i = 0
    while (i <= hostPart.length) {
      const start = i
      let host: string
      if (hostPart[i] === "[") {
        const close = hostPart.indexOf("]", i)
        if (close < 0) fail("unterminated IPv6 address (missing ']')", hostPart.slice(i), hostPos + i)
        host = hostPart.slice(i + 1, close)
        i = close + 1
      } else {
        let j = i
        while (j < hostPart.length && hostPart[j] !== ":" && hostPart[j] !== ",") j++
        host = decodePercent(hostPart.slice(i, j), "host", hostPos + i, false)
        i = j
      }
      let port = ""
      if (hostPart[i] === ":") {
        let j = i + 1
        while (j < hostPart.length && hostPart[j] !== ",") j++
        port = hostPart.slice(i + 1, j)
        if (!/^\d+$/.test(port)) fail(`invalid port "${port}"`, hostPart.slice(start, j), hostPos + i + 1)
        i = j
      } else if (i < hostPart.length && hostPart[i] !== ",") {
        fail("unexpected character in host list", hostPart.slice(start), hostPos + i)
      }
      hosts.push(host)
      ports.push(port)
      if (hostPart[i] === ",") i++
      else break
    }
    if (hosts.some((h) => h !== "")) settings.set("host", { value: hosts.join(","), position: hostPos })
    if (ports.some((p) => p !== "")) settings.set("port", { value: ports.join(","), position: hostPos })
  }
  pos += slashAt + 1

  if (path !== undefined && path !== "") {
    settings.set("dbname", { value: decodePercent(path, "database name", pos, false), position: pos })
  }

  if (query !== undefined && query !== "") {
    let p = queryPos
    for (const pair of query.split("&")) {
      if (pair === "") {
        p += 1
        continue
      }
      const eq = pair.indexOf("=")
      if (eq <= 0) fail(`invalid URL query parameter "${pair}" (expected key=value)`, pair, p)
      const key = canonical(decodePercent(pair.slice(0, eq), "query parameter name", p, false))
      const secret = key === "password" || key === "sslpassword"
      const value = decodePercent(pair.slice(eq + 1).replace(/\+/g, " "), `value of ${key}`, p + eq + 1, secret)
      settings.set(key, { value, position: p })
      p += pair.length + 1
    }
  }
  return settings
}

const isSpace = (c: string | undefined): boolean => c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f"

/** Splits `host=a,b port=5432 password='it''s' options='-c x=1'` (libpq's key=value syntax). */
export const parseKeyValue = (input: string): Settings => {
  const settings: Settings = new Map()
  let i = 0
  const n = input.length
  while (i < n) {
    while (i < n && isSpace(input[i])) i++
    if (i >= n) break
    const keyStart = i
    while (i < n && input[i] !== "=" && !isSpace(input[i])) i++
    const key = input.slice(keyStart, i)
    while (i < n && isSpace(input[i])) i++
    if (input[i] !== "=") fail(`missing "=" after "${key}" in connection string`, key, keyStart)
    if (key === "") fail("missing key before \"=\" in connection string", undefined, keyStart)
    i++
    while (i < n && isSpace(input[i])) i++
    const secret = key === "password" || key === "sslpassword"
    let value = ""
    if (input[i] === "'") {
      const quoteAt = i
      i++
      let closed = false
      while (i < n) {
        const c = input[i]!
        if (c === "\\") {
          i++
          if (i < n) value += input[i]
          i++
        } else if (c === "'") {
          i++
          closed = true
          break
        } else {
          value += c
          i++
        }
      }
      if (!closed) fail(`unterminated quoted value of "${key}"`, secret ? key : input.slice(keyStart), quoteAt)
    } else {
      while (i < n && !isSpace(input[i])) {
        if (input[i] === "\\") i++
        if (i < n) value += input[i]
        i++
      }
    }
    settings.set(canonical(key), { value, position: keyStart })
  }
  return settings
}
