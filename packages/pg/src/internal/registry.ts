/**
 * The type-codec contract the connection consumes (implemented by `PgTypes`). Kept here as an
 * interface plus a minimal text fallback until `PgTypes.ts` lands, so the connection does not
 * depend on its internals.
 */

export interface TypeRegistry {
  readonly textDecoder: (oid: number) => (text: string) => unknown
  readonly binaryDecoder: (oid: number) => (bytes: Uint8Array) => unknown
  readonly resultFormat: (oid: number) => 0 | 1
  readonly encodeParam: (value: unknown) => {
    readonly oid: number
    readonly format: 0 | 1
    readonly value: string | Uint8Array | null
  }
}

const identity = (text: string): unknown => text
const toInt = (text: string): unknown => Number.parseInt(text, 10)
const toFloat = (text: string): unknown => Number(text)
const toBool = (text: string): unknown => text === "t"
const toBigInt = (text: string): unknown => BigInt(text)
const toJson = (text: string): unknown => JSON.parse(text)

const textDecoders: Record<number, (text: string) => unknown> = {
  16: toBool,
  20: toBigInt,
  21: toInt,
  23: toInt,
  26: toInt,
  700: toFloat,
  701: toFloat,
  114: toJson,
  3802: toJson
}

export const fallbackRegistry: TypeRegistry = {
  textDecoder: (oid) => textDecoders[oid] ?? identity,
  binaryDecoder: () => (bytes) => bytes,
  resultFormat: () => 0,
  encodeParam: (value) => {
    if (value === null || value === undefined) return { oid: 0, format: 0, value: null }
    if (typeof value === "string") return { oid: 0, format: 0, value }
    if (typeof value === "number" || typeof value === "bigint") return { oid: 0, format: 0, value: String(value) }
    if (typeof value === "boolean") return { oid: 16, format: 0, value: value ? "t" : "f" }
    if (value instanceof Uint8Array) return { oid: 17, format: 1, value }
    if (value instanceof Date) return { oid: 1184, format: 0, value: value.toISOString() }
    return { oid: 0, format: 0, value: JSON.stringify(value) }
  }
}
