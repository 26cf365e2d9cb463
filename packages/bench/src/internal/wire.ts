/**
 * A minimal PostgreSQL frontend for the JavaScript-limit contenders: message encoders, a
 * frame splitter that does not decode anything it is not asked to, and a startup that handles
 * trust, cleartext, MD5 and SCRAM-SHA-256. Nothing here is used by Berth itself.
 */
import * as crypto from "node:crypto"
import * as net from "node:net"

/** Where and as whom to connect. */
export interface ConnectOptions {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string
  readonly database: string
}

const cstring = (s: string): Buffer => Buffer.concat([Buffer.from(s, "utf8"), Buffer.from([0])])

/** A typed frontend message: type byte, int32 length (self-inclusive), body. */
export const message = (type: string, body: Buffer): Buffer => {
  const out = Buffer.allocUnsafe(5 + body.length)
  out.write(type, 0, "latin1")
  out.writeInt32BE(4 + body.length, 1)
  body.copy(out, 5)
  return out
}

const int16 = (n: number): Buffer => {
  const b = Buffer.allocUnsafe(2)
  b.writeInt16BE(n)
  return b
}

const int32 = (n: number): Buffer => {
  const b = Buffer.allocUnsafe(4)
  b.writeInt32BE(n)
  return b
}

/** Parse: a named statement with no declared parameter types (the server infers them). */
export const parse = (name: string, sql: string): Buffer =>
  message("P", Buffer.concat([cstring(name), cstring(sql), int16(0)]))

/** Bind with text-format parameters (`null` is SQL NULL) and text results. */
export const bind = (portal: string, statement: string, params: ReadonlyArray<string | null>): Buffer => {
  const parts: Array<Buffer> = [cstring(portal), cstring(statement), int16(0), int16(params.length)]
  for (const p of params) {
    if (p === null) parts.push(int32(-1))
    else {
      const v = Buffer.from(p, "utf8")
      parts.push(int32(v.length), v)
    }
  }
  parts.push(int16(0))
  return message("B", Buffer.concat(parts))
}

/** Execute a portal; `maxRows` 0 means all rows. */
export const execute = (portal: string, maxRows = 0): Buffer =>
  message("E", Buffer.concat([cstring(portal), int32(maxRows)]))

/** Describe a portal (`P`) or statement (`S`). */
export const describe = (kind: "P" | "S", name: string): Buffer =>
  message("D", Buffer.concat([Buffer.from(kind), cstring(name)]))

/** Sync. */
export const sync: Buffer = message("S", Buffer.alloc(0))

/** Simple query. */
export const query = (sql: string): Buffer => message("Q", cstring(sql))

/** CopyData carrying `data`. */
export const copyData = (data: Buffer): Buffer => message("d", data)

/** CopyDone. */
export const copyDone: Buffer = message("c", Buffer.alloc(0))

/** Terminate. */
export const terminate: Buffer = message("X", Buffer.alloc(0))

/**
 * Splits a byte stream into backend messages. `onMessage` gets the type byte and the frame's
 * body as offsets into `buf` (valid only during the call), so callers that only count
 * messages never copy or decode.
 */
export class FrameReader {
  private pending: Buffer | undefined = undefined

  constructor(private readonly onMessage: (type: number, buf: Buffer, start: number, end: number) => void) {}

  push(chunk: Buffer): void {
    let buf = chunk
    if (this.pending !== undefined) {
      buf = Buffer.concat([this.pending, chunk])
      this.pending = undefined
    }
    let offset = 0
    const length = buf.length
    while (length - offset >= 5) {
      const size = buf.readInt32BE(offset + 1)
      const end = offset + 1 + size
      if (end > length) break
      this.onMessage(buf[offset]!, buf, offset + 5, end)
      offset = end
    }
    if (offset < length) this.pending = buf.subarray(offset)
  }
}

/** The type bytes the limit clients look at. */
export const Backend = {
  Authentication: 0x52, // R
  ErrorResponse: 0x45, // E
  ReadyForQuery: 0x5a, // Z
  DataRow: 0x44, // D
  CommandComplete: 0x43, // C
  CopyInResponse: 0x47, // G
  ParameterStatus: 0x53, // S
  BackendKeyData: 0x4b, // K
  NoticeResponse: 0x4e // N
} as const

/** The human-readable fields of an ErrorResponse body. */
export const errorText = (buf: Buffer, start: number, end: number): string => {
  const fields: Record<string, string> = {}
  let i = start
  while (i < end && buf[i] !== 0) {
    const code = String.fromCharCode(buf[i]!)
    const stop = buf.indexOf(0, i + 1)
    fields[code] = buf.toString("utf8", i + 1, stop)
    i = stop + 1
  }
  return `${fields["S"] ?? "ERROR"} ${fields["C"] ?? "?????"}: ${fields["M"] ?? "(no message)"}`
}

/** A started connection: the socket, ready for query, with its message handler swappable. */
export interface Connection {
  readonly socket: net.Socket
  /** How the server authenticated us: "trust", "cleartext", "md5" or "scram-sha-256". */
  readonly auth: string
  /**
   * Replaces the handler of backend messages (the startup's handler is removed); `afterChunk`
   * runs once after every socket read, when a caller wants to batch its writes.
   */
  readonly onMessage: (
    handler: (type: number, buf: Buffer, start: number, end: number) => void,
    afterChunk?: () => void
  ) => void
  readonly close: () => Promise<void>
}

const xor = (a: Buffer, b: Buffer): Buffer => {
  const out = Buffer.allocUnsafe(a.length)
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!
  return out
}

const hmac = (key: Buffer, text: string): Buffer => crypto.createHmac("sha256", key).update(text).digest()

/** The client side of SCRAM-SHA-256 (RFC 5802/7677, no channel binding). */
class Scram {
  private readonly nonce = crypto.randomBytes(18).toString("base64")
  private readonly clientFirstBare = `n=*,r=${this.nonce}`
  private serverSignature: Buffer | undefined = undefined

  constructor(private readonly password: string) {}

  first(): Buffer {
    const data = Buffer.from(`n,,${this.clientFirstBare}`)
    return message("p", Buffer.concat([cstring("SCRAM-SHA-256"), int32(data.length), data]))
  }

  final(serverFirst: string): Buffer {
    const attrs = new Map(serverFirst.split(",").map((kv) => [kv[0], kv.slice(2)] as const))
    const nonce = attrs.get("r") ?? ""
    if (!nonce.startsWith(this.nonce)) throw new Error("SCRAM: server nonce does not extend the client nonce")
    const salt = Buffer.from(attrs.get("s") ?? "", "base64")
    const iterations = Number(attrs.get("i"))
    const salted = crypto.pbkdf2Sync(this.password, salt, iterations, 32, "sha256")
    const clientKey = hmac(salted, "Client Key")
    const storedKey = crypto.createHash("sha256").update(clientKey).digest()
    const withoutProof = `c=biws,r=${nonce}`
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`
    const proof = xor(clientKey, hmac(storedKey, authMessage))
    this.serverSignature = hmac(hmac(salted, "Server Key"), authMessage)
    return message("p", Buffer.from(`${withoutProof},p=${proof.toString("base64")}`))
  }

  verify(serverFinal: string): void {
    const v = serverFinal.split(",").find((kv) => kv.startsWith("v="))?.slice(2)
    if (this.serverSignature === undefined || v !== this.serverSignature.toString("base64")) {
      throw new Error("SCRAM: the server's signature does not match")
    }
  }
}

const startupPacket = (options: ConnectOptions): Buffer => {
  const body = Buffer.concat([
    int32(196608),
    cstring("user"),
    cstring(options.user),
    cstring("database"),
    cstring(options.database),
    cstring("client_encoding"),
    cstring("UTF8"),
    Buffer.from([0])
  ])
  return Buffer.concat([int32(body.length + 4), body])
}

/** Connects, authenticates, and resolves at the first ReadyForQuery. Bounded by `timeoutMs`. */
export const connect = (options: ConnectOptions, timeoutMs = 10_000): Promise<Connection> =>
  new Promise((resolve, reject) => {
    const socket = net.connect({ host: options.host, port: options.port, noDelay: true })
    let auth = "trust"
    let scram: Scram | undefined
    let afterChunk: (() => void) | undefined
    let handler = (type: number, buf: Buffer, start: number, end: number): void => {
      if (type === Backend.ErrorResponse) return fail(new Error(errorText(buf, start, end)))
      if (type === Backend.Authentication) {
        const code = buf.readInt32BE(start)
        if (code === 3) {
          auth = "cleartext"
          socket.write(message("p", cstring(options.password)))
        } else if (code === 5) {
          auth = "md5"
          const inner = crypto.createHash("md5").update(options.password + options.user).digest("hex")
          const outer = crypto.createHash("md5").update(inner).update(buf.subarray(start + 4, start + 8)).digest("hex")
          socket.write(message("p", cstring(`md5${outer}`)))
        } else if (code === 10) {
          auth = "scram-sha-256"
          scram = new Scram(options.password)
          socket.write(scram.first())
        } else if (code === 11) {
          socket.write(scram!.final(buf.toString("utf8", start + 4, end)))
        } else if (code === 12) {
          scram!.verify(buf.toString("utf8", start + 4, end))
        } else if (code !== 0) {
          fail(new Error(`unsupported authentication request ${code}`))
        }
        return
      }
      if (type === Backend.ReadyForQuery) {
        clearTimeout(timer)
        socket.off("error", fail)
        resolve({
          socket,
          auth,
          onMessage: (next, after) => {
            handler = next
            afterChunk = after
          },
          close: () =>
            new Promise<void>((done) => {
              if (socket.destroyed) return done()
              socket.once("close", () => done())
              socket.end(terminate)
            })
        })
      }
    }
    const reader = new FrameReader((type, buf, start, end) => {
      try {
        handler(type, buf, start, end)
      } catch (cause) {
        fail(cause instanceof Error ? cause : new Error(String(cause)))
      }
    })
    const fail = (error: Error): void => {
      clearTimeout(timer)
      socket.destroy()
      reject(error)
    }
    const timer = setTimeout(() => fail(new Error(`connect timed out after ${timeoutMs} ms`)), timeoutMs)
    socket.on("data", (chunk: Buffer) => {
      reader.push(chunk)
      afterChunk?.()
    })
    socket.on("error", fail)
    socket.on("connect", () => socket.write(startupPacket(options)))
  })

/** Connection options from a `postgres://` URL. */
export const optionsFromUrl = (url: string): ConnectOptions => {
  const u = new URL(url)
  return {
    host: u.hostname === "" ? "localhost" : u.hostname,
    port: u.port === "" ? 5432 : Number(u.port),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.slice(1))
  }
}
