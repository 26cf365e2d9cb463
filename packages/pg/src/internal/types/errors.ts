import { Data } from "effect"

/**
 * A JavaScript value that cannot be sent as a PostgreSQL parameter (a function, a symbol, a class
 * instance without `toJSON`, an invalid `Date`, a `bigint` inside a JSON object, ...).
 */
export class EncodeError extends Data.TaggedError("PgEncodeError")<{
  readonly message: string
  /** `typeof` of the value, or its constructor name for objects (never the value itself). */
  readonly valueType: string
  /** Where the value sat inside the parameter, e.g. `[2][0]` for a nested array element. */
  readonly path: string
}> {}

/**
 * A value sent by the server that its codec cannot read (malformed input, a `DateStyle` other than
 * ISO, a date outside the JavaScript `Date` range, an `int8` beyond 2^53 in `"number"` mode, ...).
 */
export class DecodeError extends Data.TaggedError("PgDecodeError")<{
  readonly message: string
  /** The type OID whose codec failed. */
  readonly oid: number
  /** The type name, when known. */
  readonly typeName: string
}> {}

/**
 * Type names passed to `withNamedCodecs` that the resolution map does not contain.
 */
export class TypeNotFoundError extends Data.TaggedError("PgTypeNotFoundError")<{
  readonly message: string
  readonly names: ReadonlyArray<string>
}> {}

/** Thrown inside the internal decoders; the registry turns it into a `DecodeError`. */
export class Malformed extends Error {
  static throw(what: string, text: string): never {
    throw new Malformed(`malformed ${what}: ${JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text)}`)
  }
}
