/**
 * The registry: codecs by OID, decoders resolved once per OID and cached (a result column asks
 * once, then calls the decoder per value).
 */
import type { Codec, Options, TypeRegistry } from "../../PgTypes.js"
import { parseArrayBinary, parseArrayText } from "./array.js"
import { builtinCodecs, fixedWidth, identity, type ResolvedOptions } from "./builtins.js"
import { makeEncoder, type UserEncoder } from "./encode.js"
import { DecodeError } from "./errors.js"

const rawBytes = (bytes: Uint8Array): Uint8Array => bytes.slice()

const resolve = (options: Options): ResolvedOptions => ({
  int8: options.int8 ?? "bigint",
  numeric: options.numeric ?? "string",
  dates: options.dates ?? "date",
  json: options.json ?? "parse"
})

const validate = (codec: Codec): void => {
  const ok = Number.isInteger(codec.oid) && codec.oid > 0 && codec.oid <= 0xffffffff &&
    (codec.arrayOid === undefined || (Number.isInteger(codec.arrayOid) && codec.arrayOid > 0))
  if (!ok) throw new RangeError(`codec ${JSON.stringify(codec.name)}: oid/arrayOid must be positive integers`)
  if (codec.delimiter !== undefined && codec.delimiter.length !== 1) {
    throw new RangeError(`codec ${JSON.stringify(codec.name)}: delimiter must be one character`)
  }
}

/** Wraps a decoder so any failure surfaces as a DecodeError naming the type. */
const guard = <I>(decode: (input: I) => unknown, oid: number, name: string) => (input: I): unknown => {
  try {
    return decode(input)
  } catch (e) {
    if (e instanceof DecodeError) throw e
    throw new DecodeError({
      message: `cannot decode a ${name} value (oid ${oid}): ${e instanceof Error ? e.message : String(e)}`,
      oid,
      typeName: name
    })
  }
}

export const make = (options: Options = {}): TypeRegistry => {
  const resolved = resolve(options)
  const byOid = new Map<number, Codec>()
  const elementOf = new Map<number, Codec>()
  const userEncoders: Array<UserEncoder> = []
  const add = (given: Codec): void => {
    // Replacing a type keeps its array type pointing at the replacement.
    const replaced = byOid.get(given.oid)
    const codec = given.arrayOid === undefined && replaced?.arrayOid !== undefined
      ? { ...given, arrayOid: replaced.arrayOid }
      : given
    byOid.set(codec.oid, codec)
    if (codec.arrayOid !== undefined) elementOf.set(codec.arrayOid, codec)
  }
  for (const codec of builtinCodecs(resolved)) add(codec)
  for (const codec of options.codecs ?? []) {
    validate(codec)
    add(codec)
    if (codec.is !== undefined && codec.encode !== undefined) userEncoders.push(codec as UserEncoder)
  }
  const binaryAllowed = options.binary ?? true

  const canBinary = (codec: Codec): boolean => binaryAllowed && codec.format === 1 && codec.decodeBinary !== undefined

  const textCache = new Map<number, (text: string) => unknown>()
  const binaryCache = new Map<number, (bytes: Uint8Array) => unknown>()

  const textDecoder = (oid: number): (text: string) => unknown => {
    const cached = textCache.get(oid)
    if (cached !== undefined) return cached
    let decoder: (text: string) => unknown = identity
    const codec = byOid.get(oid)
    if (codec !== undefined) {
      decoder = codec.decodeText === identity ? identity : guard(codec.decodeText, oid, codec.name)
    } else {
      const element = elementOf.get(oid)
      if (element !== undefined) {
        const decodeElement = element.decodeText
        const delimiter = element.delimiter ?? ","
        decoder = guard((text: string) => parseArrayText(text, decodeElement, delimiter), oid, `${element.name}[]`)
      }
    }
    textCache.set(oid, decoder)
    return decoder
  }

  const binaryDecoder = (oid: number): (bytes: Uint8Array) => unknown => {
    const cached = binaryCache.get(oid)
    if (cached !== undefined) return cached
    let decoder: (bytes: Uint8Array) => unknown = rawBytes
    const codec = byOid.get(oid)
    if (codec !== undefined) {
      if (codec.decodeBinary !== undefined) decoder = guard(codec.decodeBinary, oid, codec.name)
    } else {
      const element = elementOf.get(oid)
      if (element !== undefined) {
        const decodeElement = element.decodeBinary ?? rawBytes
        const fixed = fixedWidth(decodeElement)
        decoder = guard((bytes: Uint8Array) => parseArrayBinary(bytes, decodeElement, fixed), oid, `${element.name}[]`)
      }
    }
    binaryCache.set(oid, decoder)
    return decoder
  }

  const resultFormat = (oid: number): 0 | 1 => {
    const codec = byOid.get(oid) ?? elementOf.get(oid)
    return codec !== undefined && canBinary(codec) ? 1 : 0
  }

  return {
    options,
    textDecoder,
    binaryDecoder,
    resultFormat,
    encodeParam: makeEncoder(userEncoders),
    codec: (oid) => byOid.get(oid),
    typeName: (oid) => {
      const codec = byOid.get(oid)
      if (codec !== undefined) return codec.name
      const element = elementOf.get(oid)
      return element === undefined ? undefined : `${element.name}[]`
    }
  }
}
