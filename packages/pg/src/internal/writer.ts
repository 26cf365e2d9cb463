/**
 * Frontend message encoding into one reusable, growable buffer. A query's messages (Parse,
 * Bind, Describe, Execute, Sync) are appended back to back and taken out as ONE Buffer, so
 * each statement costs one socket write.
 */

/** Up to this many UTF-16 units, a string is tried as ASCII in JavaScript before `Buffer#write`. */
const shortString = 64

export class Writer {
  private buf: Buffer = Buffer.allocUnsafe(16384)
  private pos = 0
  private lengthAt = -1

  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + extra))
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
  }

  /** Starts a message of `type` (0 for the untyped startup/cancel/SSL packets). */
  begin(type: number): this {
    this.ensure(5)
    if (type !== 0) this.buf[this.pos++] = type
    this.lengthAt = this.pos
    this.pos += 4
    return this
  }

  /** Patches the length of the message started by {@link begin}. */
  end(): this {
    this.buf.writeInt32BE(this.pos - this.lengthAt, this.lengthAt)
    return this
  }

  int8(n: number): this {
    this.ensure(1)
    this.buf[this.pos++] = n
    return this
  }

  int16(n: number): this {
    this.ensure(2)
    this.buf.writeUInt16BE(n, this.pos)
    this.pos += 2
    return this
  }

  int32(n: number): this {
    this.ensure(4)
    this.buf.writeInt32BE(n, this.pos)
    this.pos += 4
    return this
  }

  uint32(n: number): this {
    this.ensure(4)
    this.buf.writeUInt32BE(n, this.pos)
    this.pos += 4
    return this
  }

  /**
   * Writes the UTF-8 bytes of `s` at `at` (room checked by the caller); returns their count.
   * Short ASCII strings (portal and statement names, most parameters) are copied by a loop:
   * `Buffer#write` is a native call costing about ten times as much for them.
   */
  private utf8(s: string, at: number): number {
    const n = s.length
    if (n <= shortString) {
      const buf = this.buf
      let i = 0
      for (; i < n; i++) {
        const c = s.charCodeAt(i)
        if (c >= 0x80) break
        buf[at + i] = c
      }
      if (i === n) return n
    }
    return this.buf.write(s, at, "utf8")
  }

  /** A NUL-terminated UTF-8 string (the caller has checked it contains no NUL). */
  cstring(s: string): this {
    this.ensure(s.length * 3 + 1)
    this.pos += this.utf8(s, this.pos)
    this.buf[this.pos++] = 0
    return this
  }

  /** An Int32 length followed by the UTF-8 bytes of `s`. */
  lengthString(s: string): this {
    this.ensure(s.length * 3 + 4)
    const at = this.pos
    this.pos += 4
    const n = this.utf8(s, this.pos)
    this.buf.writeInt32BE(n, at)
    this.pos += n
    return this
  }

  /** An Int32 length followed by `bytes`. */
  lengthBytes(bytes: Uint8Array): this {
    this.ensure(bytes.length + 4)
    this.buf.writeInt32BE(bytes.length, this.pos)
    this.pos += 4
    this.buf.set(bytes, this.pos)
    this.pos += bytes.length
    return this
  }

  bytes(bytes: Uint8Array): this {
    this.ensure(bytes.length)
    this.buf.set(bytes, this.pos)
    this.pos += bytes.length
    return this
  }

  /** Copies out everything written since the last flush (the socket may keep the buffer). */
  flush(): Buffer {
    const out = Buffer.allocUnsafe(this.pos)
    this.buf.copy(out, 0, 0, this.pos)
    this.pos = 0
    // do not keep a huge buffer alive after one big statement
    if (this.buf.length > 1 << 20) this.buf = Buffer.allocUnsafe(16384)
    return out
  }

  /** Drops a partly written batch (an encoding error). */
  reset(): void {
    this.pos = 0
  }

  /** Bytes written since the last flush. */
  get length(): number {
    return this.pos
  }

  /** Drops what was written after `length` was `mark` (one statement that could not be built). */
  truncate(mark: number): void {
    this.pos = mark
  }
}

/** Frontend message type bytes. */
export const Frontend = {
  Bind: 0x42, // B
  Close: 0x43, // C
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  CopyFail: 0x66, // f
  Describe: 0x44, // D
  Execute: 0x45, // E
  Flush: 0x48, // H
  Parse: 0x50, // P
  Password: 0x70, // p (also SASLInitialResponse / SASLResponse)
  Query: 0x51, // Q
  Sync: 0x53, // S
  Terminate: 0x58 // X
} as const

export const PROTOCOL_3_0 = 196608
export const SSL_REQUEST_CODE = 80877103
export const CANCEL_REQUEST_CODE = 80877102

/** A CancelRequest packet for a backend. */
export const cancelRequest = (pid: number, secret: number): Buffer => {
  const b = Buffer.allocUnsafe(16)
  b.writeInt32BE(16, 0)
  b.writeInt32BE(CANCEL_REQUEST_CODE, 4)
  b.writeInt32BE(pid, 8)
  b.writeInt32BE(secret, 12)
  return b
}

/** An SSLRequest packet. */
export const sslRequest = (): Buffer => {
  const b = Buffer.allocUnsafe(8)
  b.writeInt32BE(8, 0)
  b.writeInt32BE(SSL_REQUEST_CODE, 4)
  return b
}
