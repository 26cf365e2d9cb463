/**
 * The migration lock: a session-level advisory lock on the migrator's pinned connection.
 *
 * Waiting is done by polling `pg_try_advisory_lock`, never by blocking in
 * `pg_advisory_lock`: a session blocked in that call holds a snapshot for as long as it
 * waits, and `CREATE INDEX CONCURRENTLY` run by the lock holder waits for every such
 * snapshot to go away. The holder would wait for the waiter, the waiter for the holder:
 * a deadlock (PostgreSQL breaks it by failing one of them). A poll holds a snapshot only
 * for the instant the try runs.
 *
 * @internal
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Clock, Duration, Effect } from "effect"
import * as crypto from "node:crypto"
import { LockError, type LockHolder } from "../MigrateError.js"
import type { Session } from "./session.js"

/** A signed 64-bit key derived from the history table's name (one lock per table). */
export const key = (table: string): bigint =>
  crypto.createHash("sha256").update(`berth-migrate:${table}`).digest()
    .readBigInt64BE(0)

/** Who holds the lock, if anyone (as far as `pg_locks` can tell). */
export const holder = (session: Session, lockKey: bigint): Effect.Effect<LockHolder | undefined, SqlError> => {
  const unsigned = BigInt.asUintN(64, lockKey)
  const classid = Number(unsigned >> 32n)
  const objid = Number(unsigned & 0xffffffffn)
  return session.run({
    text: `SELECT a.pid, a.application_name, a.client_addr::text AS client_addr, a.backend_start::text AS backend_start
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 1
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
LIMIT 1`,
    params: [classid, objid]
  }).pipe(Effect.map((rows) => {
    const row = rows[0]
    return row === undefined ? undefined : {
      pid: Number(row["pid"]),
      applicationName: String(row["application_name"] ?? ""),
      clientAddr: row["client_addr"] === null ? null : String(row["client_addr"]),
      backendStart: row["backend_start"] === null ? null : String(row["backend_start"])
    }
  }))
}

// Uninterruptible: an interruption while the try is in flight could lose a granted lock's
// reply and return the connection to its pool still holding the lock. A try takes
// milliseconds; interruption lands between tries, while sleeping.
const tryLock = (session: Session, lockKey: bigint, held: { value: boolean }) =>
  session.run({ text: "SELECT pg_try_advisory_lock($1::bigint) AS locked", params: [lockKey.toString()] }).pipe(
    Effect.map((rows) => {
      const locked = rows[0]?.["locked"] === true
      if (locked) held.value = true
      return locked
    }),
    Effect.uninterruptible
  )

/** How to wait for the lock. */
export interface Options {
  /** `false`: fail at once with `reason: "busy"` if another runner holds it. */
  readonly wait: boolean
  readonly timeout: Duration.Duration
  /** Called once, when the first try finds the lock taken. */
  readonly onWait: (holder: LockHolder | undefined) => Effect.Effect<void>
  /**
   * Set to `true` in the same uninterruptible step that sees the lock granted, so the
   * caller's finalizer knows whether to release it. Waiting itself stays interruptible.
   */
  readonly held: { value: boolean }
}

/**
 * Takes the lock, polling with a backoff from 50 ms to 1 s, bounded by the timeout.
 * Returns how long it waited (0 when the first try got it).
 */
export const acquire = (
  session: Session,
  lockKey: bigint,
  options: Options
): Effect.Effect<number, LockError | SqlError> =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const limit = Duration.toMillis(options.timeout)
    let delay = 50
    let first = true
    while (true) {
      if (yield* tryLock(session, lockKey, options.held)) return first ? 0 : (yield* Clock.currentTimeMillis) - start
      const waited = (yield* Clock.currentTimeMillis) - start
      if (!options.wait || waited >= limit) {
        const who = yield* holder(session, lockKey).pipe(Effect.orElseSucceed(() => undefined))
        return yield* new LockError({ reason: options.wait ? "timeout" : "busy", waitedMillis: waited, holder: who })
      }
      if (first) {
        first = false
        yield* options.onWait(yield* holder(session, lockKey).pipe(Effect.orElseSucceed(() => undefined)))
      }
      yield* Effect.sleep(Duration.millis(Math.min(delay, Math.max(1, limit - waited))))
      delay = Math.min(delay * 2, 1000)
    }
  })

/** Releases the lock (the pinned connection goes back to its pool afterwards). */
export const release = (session: Session, lockKey: bigint): Effect.Effect<void, SqlError> =>
  Effect.asVoid(session.run({ text: "SELECT pg_advisory_unlock($1::bigint)", params: [lockKey.toString()] }))
