/**
 * Decoding helpers for backend messages that are not on the row hot path.
 */
import { makeServerError, type PgServerError, type ServerErrorFields } from "../PgError.js"

/** Backend message type bytes. */
export const Backend = {
  Authentication: 0x52, // R
  BackendKeyData: 0x4b, // K
  BindComplete: 0x32, // 2
  CloseComplete: 0x33, // 3
  CommandComplete: 0x43, // C
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  CopyInResponse: 0x47, // G
  CopyOutResponse: 0x48, // H
  CopyBothResponse: 0x57, // W
  DataRow: 0x44, // D
  EmptyQueryResponse: 0x49, // I
  ErrorResponse: 0x45, // E
  FunctionCallResponse: 0x56, // V
  NegotiateProtocolVersion: 0x76, // v
  NoData: 0x6e, // n
  NoticeResponse: 0x4e, // N
  NotificationResponse: 0x41, // A
  ParameterDescription: 0x74, // t
  ParameterStatus: 0x53, // S
  ParseComplete: 0x31, // 1
  PortalSuspended: 0x73, // s
  ReadyForQuery: 0x5a, // Z
  RowDescription: 0x54 // T
} as const

const knownTypes = new Uint8Array(256)
for (const type of Object.values(Backend)) knownTypes[type] = 1

/** Whether `type` is a backend message type at all (garbage detection before the length). */
export const isBackendType = (type: number): boolean => knownTypes[type] === 1

/** Thrown by decoders when a frame's content is inconsistent with its length. */
export class MalformedMessage extends Error {}

/** Reads a NUL-terminated string at `pos`; returns the string and the position after the NUL. */
export const readCString = (buf: Buffer, pos: number, end: number): [string, number] => {
  const nul = buf.indexOf(0, pos)
  if (nul < 0 || nul >= end) throw new MalformedMessage("unterminated string in message")
  return [buf.toString("utf8", pos, nul), nul + 1]
}

const intField = (text: string | undefined): number | undefined => {
  if (text === undefined) return undefined
  const n = Number.parseInt(text, 10)
  return Number.isNaN(n) ? undefined : n
}

/** Decodes the body of an ErrorResponse or NoticeResponse. */
export const parseErrorFields = (buf: Buffer, start: number, end: number): ServerErrorFields => {
  const raw = new Map<number, string>()
  let pos = start
  while (pos < end) {
    const code = buf[pos++]!
    if (code === 0) break
    const [value, next] = readCString(buf, pos, end)
    raw.set(code, value)
    pos = next
  }
  const f = (c: string) => raw.get(c.charCodeAt(0))
  return {
    severity: f("S") ?? f("V") ?? "ERROR",
    severityNonLocalized: f("V"),
    code: f("C") ?? "XX000",
    message: f("M") ?? "",
    detail: f("D"),
    hint: f("H"),
    position: intField(f("P")),
    internalPosition: intField(f("p")),
    internalQuery: f("q"),
    where: f("W"),
    schema: f("s"),
    table: f("t"),
    column: f("c"),
    dataType: f("d"),
    constraint: f("n"),
    file: f("F"),
    line: intField(f("L")),
    routine: f("R")
  }
}

/** The server error of the class its SQLSTATE selects (`PgUniqueViolation`, ..., `PgServerError`). */
export const serverError = (fields: ServerErrorFields, sql: string | undefined): PgServerError =>
  makeServerError(fields, sql)

/** Splits a command tag (`INSERT 0 5`, `UPDATE 3`, `CREATE TABLE`) into command and count. */
/** The last command tags seen: a statement run again and again parses its tag once. */
const commandTags = new Map<string, { readonly command: string; readonly rowCount: number | undefined }>()

/** {@link parseCommandTag}, remembered for the most recent tags. */
export const commandTagOf = (tag: string): { readonly command: string; readonly rowCount: number | undefined } => {
  let parsed = commandTags.get(tag)
  if (parsed === undefined) {
    parsed = parseCommandTag(tag)
    if (commandTags.size >= 256) commandTags.clear()
    commandTags.set(tag, parsed)
  }
  return parsed
}

/** The text of a NUL-terminated string at `pos` (CommandComplete's only field). */
export const cstringAt = (buf: Buffer, pos: number, end: number): string => {
  const nul = buf.indexOf(0, pos)
  if (nul < 0 || nul >= end) throw new MalformedMessage("unterminated string in message")
  return buf.toString("utf8", pos, nul)
}

export const parseCommandTag = (tag: string): { readonly command: string; readonly rowCount: number | undefined } => {
  const lastSpace = tag.lastIndexOf(" ")
  if (lastSpace < 0) return { command: tag, rowCount: undefined }
  const last = tag.slice(lastSpace + 1)
  if (!/^\d+$/.test(last)) return { command: tag, rowCount: undefined }
  let command = tag.slice(0, lastSpace)
  // INSERT carries an (always 0) oid before the count
  if (command.startsWith("INSERT ")) command = "INSERT"
  return { command, rowCount: Number(last) }
}
