/**
 * SCRAM-SHA-256 (RFC 5802 / 7677) client, with optional `tls-server-end-point` channel binding
 * (RFC 5929) for SCRAM-SHA-256-PLUS. Pure functions over strings and buffers; the connection
 * drives the exchange.
 */
import * as crypto from "node:crypto"

export interface ScramState {
  readonly mechanism: "SCRAM-SHA-256" | "SCRAM-SHA-256-PLUS"
  readonly clientNonce: string
  readonly clientFirstBare: string
  readonly gs2Header: string
  readonly bindingData: Buffer | undefined
}

export interface ScramFinal {
  readonly clientFinal: string
  readonly expectedServerSignature: string
}

export const start = (
  mechanism: ScramState["mechanism"],
  gs2Flag: "n" | "y" | "p",
  bindingData: Buffer | undefined
): ScramState & { readonly clientFirst: string } => {
  const clientNonce = crypto.randomBytes(18).toString("base64")
  const clientFirstBare = `n=*,r=${clientNonce}`
  const gs2Header = gs2Flag === "p" ? "p=tls-server-end-point,," : `${gs2Flag},,`
  return { mechanism, clientNonce, clientFirstBare, gs2Header, bindingData, clientFirst: gs2Header + clientFirstBare }
}

const parseAttributes = (message: string): Map<string, string> => {
  const map = new Map<string, string>()
  for (const part of message.split(",")) {
    if (part.length < 2 || part[1] !== "=") throw new Error("malformed SCRAM message")
    map.set(part[0]!, part.slice(2))
  }
  return map
}

const hmac = (key: Buffer, data: string | Buffer): Buffer => crypto.createHmac("sha256", key).update(data).digest()
const sha256 = (data: Buffer): Buffer => crypto.createHash("sha256").update(data).digest()

/** Checks the server-first message and computes the client-final message (async PBKDF2). */
export const finish = (state: ScramState, serverFirst: string, password: string): Promise<ScramFinal> => {
  const attrs = parseAttributes(serverFirst)
  const nonce = attrs.get("r")
  const saltB64 = attrs.get("s")
  const iterations = Number(attrs.get("i"))
  if (nonce === undefined || !nonce.startsWith(state.clientNonce) || nonce.length === state.clientNonce.length) {
    return Promise.reject(new Error("server nonce does not extend the client nonce"))
  }
  if (saltB64 === undefined || !Number.isInteger(iterations) || iterations < 1) {
    return Promise.reject(new Error("malformed SCRAM server-first message"))
  }
  const salt = Buffer.from(saltB64, "base64")
  return new Promise((resolve, reject) => {
    crypto.pbkdf2(saslprep(password), salt, iterations, 32, "sha256", (err, salted) => {
      if (err) return reject(err)
      const clientKey = hmac(salted, "Client Key")
      const storedKey = sha256(clientKey)
      const cbind = state.bindingData === undefined
        ? Buffer.from(state.gs2Header)
        : Buffer.concat([Buffer.from(state.gs2Header), state.bindingData])
      const withoutProof = `c=${cbind.toString("base64")},r=${nonce}`
      const authMessage = `${state.clientFirstBare},${serverFirst},${withoutProof}`
      const signature = hmac(storedKey, authMessage)
      const proof = Buffer.alloc(clientKey.length)
      for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ signature[i]!
      const serverKey = hmac(salted, "Server Key")
      resolve({
        clientFinal: `${withoutProof},p=${proof.toString("base64")}`,
        expectedServerSignature: hmac(serverKey, authMessage).toString("base64")
      })
    })
  })
}

const nothing = /[\u00AD\u034F\u1806\u180B-\u180D\u200B-\u200D\u2060\uFE00-\uFE0F\uFEFF]/gu
const nonAsciiSpace = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/gu
// RFC 4013 prohibited output (C.2-C.9), without the unassigned-code-point and bidi tables
const prohibited =
  /[\u0000-\u001F\u007F-\u009F\u0340\u0341\u06DD\u070F\u180E\u200C-\u200F\u2028-\u202E\u2060-\u2063\u206A-\u206F\u2FF0-\u2FFB\uD800-\uDFFF\uE000-\uF8FF\uFDD0-\uFDEF\uFEFF\uFFF9-\uFFFF]|[\u{1D173}-\u{1D17A}\u{E0001}\u{E0020}-\u{E007F}\u{F0000}-\u{10FFFF}]/u

/**
 * SASLprep (RFC 4013) as PostgreSQL applies it to SCRAM passwords: map, NFKC-normalize, and if
 * the result contains prohibited characters use the password unchanged (the server does the
 * same when it stores the verifier, so both sides agree).
 */
export const saslprep = (password: string): string => {
  if (/^[\x20-\x7E]*$/.test(password)) return password
  const mapped = password.replace(nothing, "").replace(nonAsciiSpace, " ").normalize("NFKC")
  if (mapped === "" || prohibited.test(mapped)) return password
  return mapped
}

/** Verifies the server-final message; returns an error message or undefined. */
export const verifyFinal = (final: ScramFinal, serverFinal: string): string | undefined => {
  let attrs: Map<string, string>
  try {
    attrs = parseAttributes(serverFinal.trim())
  } catch {
    return "malformed SCRAM server-final message"
  }
  const error = attrs.get("e")
  if (error !== undefined) return `server rejected SCRAM authentication: ${error}`
  const v = attrs.get("v")
  if (v === undefined) return "SCRAM server-final message has no signature"
  const a = Buffer.from(v, "base64")
  const b = Buffer.from(final.expectedServerSignature, "base64")
  if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) return "server SCRAM signature does not verify"
  return undefined
}

// DER-encoded OIDs of signature algorithms that imply a hash stronger than SHA-256 for
// tls-server-end-point (RFC 5929 section 4.1: MD5/SHA-1 become SHA-256, others keep theirs).
const oid = (hex: string): Buffer => Buffer.from(hex, "hex")
const strongerHashes: ReadonlyArray<readonly [Buffer, string]> = [
  [oid("06092a864886f70d01010c"), "sha384"], // sha384WithRSAEncryption
  [oid("06092a864886f70d01010d"), "sha512"], // sha512WithRSAEncryption
  [oid("06082a8648ce3d040303"), "sha384"], // ecdsa-with-SHA384
  [oid("06082a8648ce3d040304"), "sha512"] // ecdsa-with-SHA512
]

/** `tls-server-end-point` binding data: the hash of the server certificate (DER). */
export const serverEndPoint = (certificateDer: Buffer): Buffer => {
  // The outer signatureAlgorithm sits after the TBSCertificate, near the end of the DER.
  const tail = certificateDer.subarray(Math.max(0, certificateDer.length - 600))
  let algorithm = "sha256"
  for (const [bytes, hash] of strongerHashes) {
    if (tail.includes(bytes)) algorithm = hash
  }
  return crypto.createHash(algorithm).update(certificateDer).digest()
}

/** MD5 password answer: "md5" + md5(md5(password + user) + salt). */
export const md5Password = (user: string, password: string, salt: Buffer): string => {
  const inner = crypto.createHash("md5").update(password + user).digest("hex")
  return "md5" + crypto.createHash("md5").update(Buffer.concat([Buffer.from(inner), salt])).digest("hex")
}
