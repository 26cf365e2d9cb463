/**
 * Type codecs: how PostgreSQL values become JavaScript values and back.
 *
 * A `TypeRegistry` is what a connection consults: per result column it resolves a decoder once
 * (`textDecoder` / `binaryDecoder`) and asks which wire format to request (`resultFormat`); per
 * parameter it calls `encodeParam`. `int8` and `numeric` never lose precision by default.
 *
 * @since 0.1.0
 */
import { type EncodedParam as EncodedParam_, Typed as Typed_ } from "./internal/types/encode.js"
import {
  DecodeError as DecodeError_,
  EncodeError as EncodeError_,
  TypeNotFoundError as TypeNotFoundError_
} from "./internal/types/errors.js"
import { Interval as Interval_, type IntervalFields as IntervalFields_ } from "./internal/types/interval.js"
import { Oid as Oid_ } from "./internal/types/oids.js"
import * as registry from "./internal/types/registry.js"

/**
 * Everything a connection needs to read results and write parameters.
 *
 * @example
 * ```ts
 * import { PgTypes } from "@berth/pg"
 *
 * const decode = PgTypes.defaultRegistry.textDecoder(PgTypes.Oid.int8) // resolved once per column
 * decode("9007199254740993") // 9007199254740993n
 * PgTypes.defaultRegistry.encodeParam([1, null, "a\"b"]) // { oid: 0, format: 0, value: '{"1",NULL,"a\\"b"}' }
 * ```
 *
 * @since 0.1.0
 */
export interface TypeRegistry {
  /** The decoder of one text-format value of type `oid`; an unknown OID decodes to the text itself. */
  readonly textDecoder: (oid: number) => (text: string) => unknown
  /** The decoder of one binary-format value of type `oid`; an unknown OID decodes to a copy of the bytes. */
  readonly binaryDecoder: (oid: number) => (bytes: Uint8Array) => unknown
  /** The result format to request for a column of type `oid`: the faster of the exact ones. */
  readonly resultFormat: (oid: number) => 0 | 1
  /** One parameter for a Bind message; OID 0 lets the server infer the type from the statement. */
  readonly encodeParam: (value: unknown) => EncodedParam
  /** The codec registered for a type OID (not for array OIDs). */
  readonly codec: (oid: number) => Codec | undefined
  /** The name of a known type, `name[]` for arrays of known types. */
  readonly typeName: (oid: number) => string | undefined
  /** The options this registry was made with (used by `withCodecs` / `withNamedCodecs`). */
  readonly options: Options
}

/**
 * One parameter as it goes into a Bind message: the type OID (0 = inferred by the server), the
 * format code (0 text, 1 binary) and the value (`null` = SQL NULL).
 *
 * @example
 * ```ts
 * import { PgTypes } from "@berth/pg"
 *
 * const param: PgTypes.EncodedParam = PgTypes.defaultRegistry.encodeParam(new Uint8Array([1, 2]))
 * // { oid: 17, format: 1, value: Uint8Array [1, 2] }
 * ```
 *
 * @since 0.1.0
 */
export type EncodedParam = EncodedParam_

/**
 * A codec for one PostgreSQL type.
 *
 * Decoders receive one non-NULL value (NULL is always `null` and never reaches a codec). A binary
 * decoder gets a view on the connection's receive buffer: copy what you keep. A decoder signals
 * bad input by throwing; the registry rethrows it as a `DecodeError` naming the type.
 *
 * @example
 * ```ts
 * import { PgTypes } from "@berth/pg"
 *
 * class Point {
 *   constructor(readonly x: number, readonly y: number) {}
 * }
 * const point: PgTypes.Codec = {
 *   oid: 600,
 *   arrayOid: 1017,
 *   name: "point",
 *   decodeText: (text) => {
 *     const [x, y] = text.slice(1, -1).split(",").map(Number)
 *     return new Point(x!, y!)
 *   },
 *   is: (value) => value instanceof Point,
 *   encode: (value) => `(${(value as Point).x},${(value as Point).y})`
 * }
 * const registry = PgTypes.make({ codecs: [point] })
 * ```
 *
 * @since 0.1.0
 */
export interface Codec {
  /** The type OID (`select 'point'::regtype::oid`). */
  readonly oid: number
  /** The type name, used in error messages (and the lookup key for `withNamedCodecs`). */
  readonly name: string
  /** The OID of the array type (`pg_type.typarray`); arrays of this type then decode element-wise. */
  readonly arrayOid?: number
  /** Decodes the type's text output. */
  readonly decodeText: (text: string) => unknown
  /**
   * Decodes the type's binary (`typsend`) output. The bytes are a view of the connection's read
   * buffer, valid only during the call: copy (`bytes.slice()`) whatever the result keeps.
   */
  readonly decodeBinary?: (bytes: Uint8Array) => unknown
  /** The result format to request: 1 (binary) only takes effect with `decodeBinary`. Default 0. */
  readonly format?: 0 | 1
  /** Claims JavaScript values this codec sends as parameters (checked before the built-in rules). */
  readonly is?: (value: unknown) => boolean
  /** The input text of a claimed value; it is sent with this codec's `oid`. */
  readonly encode?: (value: unknown) => string
  /** The array element delimiter (`pg_type.typdelim`); "," for every type but `box`. */
  readonly delimiter?: string
}

/**
 * Registry options.
 *
 * @example
 * ```ts
 * import { PgTypes } from "@berth/pg"
 *
 * const registry = PgTypes.make({ int8: "number", numeric: "string", dates: "string" })
 * ```
 *
 * @since 0.1.0
 */
export interface Options {
  /**
   * `int8` as `bigint` (default, exact), `string` (exact), or `number` (a value beyond
   * ±(2^53 - 1) is a `DecodeError` rather than a silently rounded number).
   */
  readonly int8?: "bigint" | "string" | "number"
  /** `numeric` as its exact decimal `string` (default) or as the nearest `number` (lossy). */
  readonly numeric?: "string" | "number"
  /**
   * `date`, `timestamp` and `timestamptz` as JavaScript `Date` (default; ±infinity as ±`Infinity`,
   * microseconds floored to milliseconds) or as `string`: PostgreSQL's own text, exact to the
   * microsecond.
   */
  readonly dates?: "date" | "string"
  /** `json`/`jsonb` parsed (default) or left as the JSON text. */
  readonly json?: "parse" | "string"
  /** `false` requests every column as text (e.g. to compare with psql); default `true`. */
  readonly binary?: boolean
  /** Extra codecs by OID; they replace built-in ones with the same OID. */
  readonly codecs?: ReadonlyArray<Codec>
}

/**
 * Makes a registry.
 *
 * @example
 * ```ts
 * import { PgTypes } from "@berth/pg"
 *
 * const registry = PgTypes.make({ int8: "string" })
 * registry.textDecoder(PgTypes.Oid.int8)("42") // "42"
 * ```
 *
 * @since 0.1.0
 */
export const make: (options?: Options) => TypeRegistry = registry.make

/**
 * The registry with the default options: `int8` → `bigint`, `numeric` → `string`, dates → `Date`,
 * JSON parsed.
 *
 * @example
 * ```ts
 * import { PgTypes } from "@berth/pg"
 *
 * PgTypes.defaultRegistry.textDecoder(PgTypes.Oid.numeric)("0.1000000000000000000001") // exact string
 * ```
 *
 * @since 0.1.0
 */
export const defaultRegistry: TypeRegistry = registry.make()

/**
 * A registry with more codecs by OID (later ones win over earlier and built-in ones).
 *
 * @example
 * ```ts
 * import { PgTypes } from "@berth/pg"
 *
 * const registry = PgTypes.withCodecs(PgTypes.defaultRegistry, [
 *   { oid: 3904, name: "int4range", decodeText: (text) => text }
 * ])
 * ```
 *
 * @since 0.1.0
 */
export const withCodecs = (base: TypeRegistry, codecs: ReadonlyArray<Codec>): TypeRegistry =>
  registry.make({ ...base.options, codecs: [...(base.options.codecs ?? []), ...codecs] })

/**
 * A codec for a type known by name only (an enum, a domain, an extension type such as
 * `citext` or `hstore` whose OID differs per database).
 *
 * @example
 * ```ts
 * import { PgTypes } from "@berth/pg"
 *
 * const mood: PgTypes.NamedCodec = { name: "mood", decodeText: (text) => text.toUpperCase() }
 * ```
 *
 * @since 0.1.0
 */
export type NamedCodec = Omit<Codec, "oid" | "arrayOid">

/**
 * The OIDs of a named type, as `namedTypesQuery` returns them.
 *
 * @example
 * ```ts
 * import { PgTypes } from "@berth/pg"
 *
 * const mood: PgTypes.ResolvedType = { oid: 16385, arrayOid: 16384 }
 * ```
 *
 * @since 0.1.0
 */
export interface ResolvedType {
  readonly oid: number
  readonly arrayOid?: number
}

/**
 * The statement a connection runs to resolve type names: one parameter, a `text[]` of names
 * (schema-qualified or found through `search_path`, as `::regtype` would), one row per name
 * found, columns `name`, `oid`, `array_oid` (0 when the type has no array type).
 *
 * @example
 * ```ts
 * import { PgTypes } from "@berth/pg"
 *
 * // run it with the parameter ["mood", "public.citext"], then:
 * const oids = PgTypes.namedTypesFromRows([{ name: "mood", oid: 16385, array_oid: 16384 }])
 * ```
 *
 * @since 0.1.0
 */
export const namedTypesQuery: string = "select n.name, t.oid, t.typarray as array_oid" +
  " from unnest($1::text[]) as n(name) join pg_catalog.pg_type t on t.oid = pg_catalog.to_regtype(n.name)"

/**
 * Builds the name → OIDs map for `withNamedCodecs` from the rows of `namedTypesQuery`.
 *
 * @example
 * ```ts
 * import { PgTypes } from "@berth/pg"
 *
 * const oids = PgTypes.namedTypesFromRows([{ name: "mood", oid: 16385, array_oid: 16384 }])
 * oids.get("mood") // { oid: 16385, arrayOid: 16384 }
 * ```
 *
 * @since 0.1.0
 */
export const namedTypesFromRows = (
  rows: ReadonlyArray<{ readonly name: string; readonly oid: number; readonly array_oid: number }>
): ReadonlyMap<string, ResolvedType> =>
  new Map(
    rows.map((row) => [row.name, row.array_oid > 0 ? { oid: row.oid, arrayOid: row.array_oid } : { oid: row.oid }])
  )

/**
 * Registers codecs by type name, given the names' OIDs. Looking names up needs a live connection
 * (the OIDs of enums, domains and extension types differ per database), so this helper is pure:
 * the connection layer runs `namedTypesQuery` and passes the result. A name missing from `oids`
 * throws `TypeNotFoundError` listing every missing name, rather than silently decoding as text.
 *
 * @example
 * ```ts
 * import { PgTypes } from "@berth/pg"
 *
 * const registry = PgTypes.withNamedCodecs(
 *   PgTypes.defaultRegistry,
 *   [{ name: "mood", decodeText: (text) => text.toUpperCase() }],
 *   new Map([["mood", { oid: 16385, arrayOid: 16384 }]])
 * )
 * registry.textDecoder(16384)("{happy,sad}") // ["HAPPY", "SAD"]
 * ```
 *
 * @since 0.1.0
 */
export const withNamedCodecs = (
  base: TypeRegistry,
  codecs: ReadonlyArray<NamedCodec>,
  oids: ReadonlyMap<string, number | ResolvedType>
): TypeRegistry => {
  const missing = codecs.filter((codec) => !oids.has(codec.name)).map((codec) => codec.name)
  if (missing.length > 0) {
    throw new TypeNotFoundError_({
      message: `no type OID for ${missing.map((name) => JSON.stringify(name)).join(", ")}`,
      names: missing
    })
  }
  return withCodecs(
    base,
    codecs.map((codec): Codec => {
      const resolved = oids.get(codec.name)!
      const type = typeof resolved === "number" ? { oid: resolved } : resolved
      return type.arrayOid === undefined ? { ...codec, oid: type.oid } : { ...codec, ...type }
    })
  )
}

/**
 * Marks a parameter with the type OID to send it as, for statements where the server cannot
 * infer it (`select $1`) or must not (`bigint` into an overloaded function). A `Uint8Array`
 * inside `typed` goes in binary, so it must be that type's binary form.
 *
 * @example
 * ```ts
 * import { PgTypes } from "@berth/pg"
 *
 * PgTypes.defaultRegistry.encodeParam(PgTypes.typed(42n, PgTypes.Oid.int8)) // { oid: 20, format: 0, value: "42" }
 * ```
 *
 * @since 0.1.0
 */
export const typed = (value: unknown, oid: number): Typed => new Typed_(value, oid)

/**
 * A parameter value with its type OID (made by `typed`).
 *
 * @example
 * ```ts
 * import { PgTypes } from "@berth/pg"
 *
 * const p: PgTypes.Typed = PgTypes.typed("{}", PgTypes.Oid.jsonb)
 * ```
 *
 * @since 0.1.0
 */
export type Typed = Typed_

/**
 * A PostgreSQL `interval`: `years`/`months` from its months field, `days`, and
 * `hours`/`minutes`/`seconds`/`microseconds` from its time field; each group carries its own
 * sign, as PostgreSQL stores them. As a parameter it is sent as `interval` exactly.
 *
 * @example
 * ```ts
 * import { PgTypes } from "@berth/pg"
 *
 * const i = PgTypes.Interval.make({ days: 1, hours: 36 }) // { days: 1, hours: 36, ... } (not 2.5 days)
 * i.toString() // "P1DT36H"
 * ```
 *
 * @since 0.1.0
 */
export const Interval = Interval_

/**
 * The `Interval` instance type.
 *
 * @example
 * ```ts
 * import { PgTypes } from "@berth/pg"
 *
 * const zero: PgTypes.Interval = PgTypes.Interval.make({})
 * ```
 *
 * @since 0.1.0
 */
export type Interval = Interval_

/**
 * The fields `Interval.make` accepts (integers; missing ones are 0).
 *
 * @example
 * ```ts
 * import { PgTypes } from "@berth/pg"
 *
 * const fields: PgTypes.IntervalFields = { months: 1, microseconds: 5 }
 * ```
 *
 * @since 0.1.0
 */
export type IntervalFields = IntervalFields_

/**
 * OIDs of the built-in types and their arrays (`Oid._int4` is `int4[]`).
 *
 * @example
 * ```ts
 * import { PgTypes } from "@berth/pg"
 *
 * PgTypes.Oid.timestamptz // 1184
 * ```
 *
 * @since 0.1.0
 */
export const Oid = Oid_

/**
 * A parameter that cannot be encoded. `encodeParam` throws it (it is an `Error`); its message
 * names the value's type and position, never the value.
 *
 * @example
 * ```ts
 * import { PgTypes } from "@berth/pg"
 *
 * try {
 *   PgTypes.defaultRegistry.encodeParam(new Map())
 * } catch (e) {
 *   if (e instanceof PgTypes.EncodeError) console.log(e.valueType) // "Map"
 * }
 * ```
 *
 * @since 0.1.0
 */
export const EncodeError = EncodeError_

/**
 * The `EncodeError` instance type.
 *
 * @example
 * ```ts
 * import { PgTypes } from "@berth/pg"
 *
 * const describe = (e: PgTypes.EncodeError) => `${e._tag}: ${e.message}`
 * ```
 *
 * @since 0.1.0
 */
export type EncodeError = EncodeError_

/**
 * A value from the server that its codec cannot read; decoders throw it.
 *
 * @example
 * ```ts
 * import { PgTypes } from "@berth/pg"
 *
 * try {
 *   PgTypes.make({ int8: "number" }).textDecoder(PgTypes.Oid.int8)("9007199254740993")
 * } catch (e) {
 *   if (e instanceof PgTypes.DecodeError) console.log(e.typeName) // "int8"
 * }
 * ```
 *
 * @since 0.1.0
 */
export const DecodeError = DecodeError_

/**
 * The `DecodeError` instance type.
 *
 * @example
 * ```ts
 * import { PgTypes } from "@berth/pg"
 *
 * const describe = (e: PgTypes.DecodeError) => `${e.typeName}: ${e.message}`
 * ```
 *
 * @since 0.1.0
 */
export type DecodeError = DecodeError_

/**
 * Names given to `withNamedCodecs` that have no OID in its map.
 *
 * @example
 * ```ts
 * import { PgTypes } from "@berth/pg"
 *
 * try {
 *   PgTypes.withNamedCodecs(PgTypes.defaultRegistry, [{ name: "mood", decodeText: String }], new Map())
 * } catch (e) {
 *   if (e instanceof PgTypes.TypeNotFoundError) console.log(e.names) // ["mood"]
 * }
 * ```
 *
 * @since 0.1.0
 */
export const TypeNotFoundError = TypeNotFoundError_

/**
 * The `TypeNotFoundError` instance type.
 *
 * @example
 * ```ts
 * import { PgTypes } from "@berth/pg"
 *
 * const names = (e: PgTypes.TypeNotFoundError) => e.names.join(", ")
 * ```
 *
 * @since 0.1.0
 */
export type TypeNotFoundError = TypeNotFoundError_
