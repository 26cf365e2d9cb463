/**
 * JavaScript values as parameters. Everything goes as text with OID 0 (the server infers the type
 * from the statement, exactly as for an untyped literal) except `Uint8Array`, which goes as binary
 * `bytea`, an `Interval`, and values a user codec or `typed` claims.
 */
import { BigDecimal, Redacted } from "effect"
import type { Codec } from "../../PgTypes.js"
import { quoteElement } from "./array.js"
import { toHex } from "./binary.js"
import { dateToTimestamptzText } from "./datetime.js"
import { EncodeError } from "./errors.js"
import { Interval } from "./interval.js"
import { Oid } from "./oids.js"

/** What goes into a Bind message for one parameter. */
export interface EncodedParam {
  readonly oid: number
  readonly format: 0 | 1
  readonly value: string | Uint8Array | null
}

/** A value with the parameter type OID to send it as (see `PgTypes.typed`). */
export class Typed {
  constructor(readonly value: unknown, readonly oid: number) {}
}

const NULL: EncodedParam = { oid: 0, format: 0, value: null }

const describe = (value: unknown): string => {
  if (value === null) return "null"
  if (typeof value !== "object") return typeof value
  const proto: unknown = Object.getPrototypeOf(value)
  const ctor = proto === null ? undefined : (proto as { constructor?: { name?: unknown } }).constructor?.name
  return typeof ctor === "string" && ctor !== "" ? ctor : "object"
}

const fail = (value: unknown, path: string, why: string): never => {
  const valueType = describe(value)
  throw new EncodeError({
    message: `cannot send a ${valueType} as a PostgreSQL parameter${path === "" ? "" : ` (at ${path})`}: ${why}`,
    valueType,
    path
  })
}

const isPlainObject = (value: object): boolean => {
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

const numberText = (n: number): string => (Object.is(n, -0) ? "-0" : String(n))

const json = (value: unknown, path: string): string => {
  try {
    const text = JSON.stringify(value)
    if (typeof text === "string") return text
  } catch (e) {
    return fail(value, path, `JSON.stringify failed: ${e instanceof Error ? e.message : String(e)}`)
  }
  return fail(value, path, "JSON.stringify produced nothing")
}

export type UserEncoder = Codec & { readonly is: (value: unknown) => boolean; readonly encode: (v: unknown) => string }

export const makeEncoder = (user: ReadonlyArray<UserEncoder>) => {
  const claim = (value: unknown): UserEncoder | undefined => {
    for (const codec of user) if (codec.is(value)) return codec
    return undefined
  }

  /** Text of a non-null scalar, array, or object, for the top level and for array elements. */
  const text = (value: unknown, path: string): string => {
    switch (typeof value) {
      case "string":
        return value
      case "number":
        return numberText(value)
      case "bigint":
        return value.toString()
      case "boolean":
        return value ? "t" : "f"
      case "object": {
        if (value === null) return fail(value, path, "unreachable")
        if (user.length > 0) {
          const codec = claim(value)
          if (codec !== undefined) return codec.encode(value)
        }
        if (Array.isArray(value)) return arrayLiteral(value, path)
        if (value instanceof Date) {
          return dateToTimestamptzText(value) ?? fail(value, path, "the Date is invalid")
        }
        if (value instanceof Uint8Array) return "\\x" + toHex(value)
        if (value instanceof Interval) return value.toPostgres()
        if (BigDecimal.isBigDecimal(value)) return BigDecimal.format(value)
        if (Redacted.isRedacted(value)) return fail(value, path, "unwrap it with Redacted.value first")
        if (value instanceof Typed) return fail(value, path, "typed() is only allowed for a whole parameter")
        if (isPlainObject(value) || typeof (value as { toJSON?: unknown }).toJSON === "function") {
          return json(value, path)
        }
        return fail(
          value,
          path,
          "no codec claims it; pass a plain object (sent as JSON), a string, or register a codec"
        )
      }
      default:
        return fail(value, path, "no codec claims it")
    }
  }

  const arrayLiteral = (values: ReadonlyArray<unknown>, path: string): string => {
    let out = "{"
    for (let i = 0; i < values.length; i++) {
      if (i > 0) out += ","
      const v = values[i]
      if (v === null || v === undefined) out += "NULL"
      else if (Array.isArray(v)) out += arrayLiteral(v, `${path}[${i}]`)
      else out += quoteElement(text(v, `${path}[${i}]`))
    }
    return out + "}"
  }

  return (value: unknown): EncodedParam => {
    if (value === null || value === undefined) return NULL
    switch (typeof value) {
      case "string":
        return { oid: 0, format: 0, value }
      case "number":
      case "bigint":
      case "boolean":
        return { oid: 0, format: 0, value: text(value, "") }
      case "object": {
        if (user.length > 0) {
          const codec = claim(value)
          if (codec !== undefined) return { oid: codec.oid, format: 0, value: codec.encode(value) }
        }
        if (value instanceof Uint8Array) return { oid: Oid.bytea, format: 1, value }
        if (value instanceof ArrayBuffer) return { oid: Oid.bytea, format: 1, value: new Uint8Array(value) }
        if (value instanceof Interval) return { oid: Oid.interval, format: 0, value: value.toPostgres() }
        if (value instanceof Typed) {
          if (value.value === null || value.value === undefined) return { oid: value.oid, format: 0, value: null }
          if (value.value instanceof Uint8Array) return { oid: value.oid, format: 1, value: value.value }
          return { oid: value.oid, format: 0, value: text(value.value, "") }
        }
        if (ArrayBuffer.isView(value)) return fail(value, "", "only Uint8Array (or Buffer) is sent, as bytea")
        return { oid: 0, format: 0, value: text(value, "") }
      }
      default:
        return fail(value, "", "no codec claims it")
    }
  }
}
