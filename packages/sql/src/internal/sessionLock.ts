/**
 * The read/write lock of a session: statements share it, a savepoint, a cursor on a pinned
 * connection or the session's close holds it alone.
 *
 * Statements are let in whenever nothing holds the lock alone, even past an exclusive waiter,
 * as the `Effect.Semaphore` this replaces did: a statement may run inside another one's
 * `Db.withConnection` on the same session, and making it queue behind a savepoint that waits
 * for that outer statement would deadlock.
 *
 * A free shared hold is taken synchronously (`tryShared`), without the asynchronous wait and the
 * release region of `Effect.Semaphore#withPermits`: that is the path of every statement of a
 * transaction. A waiter decides and queues in one synchronous step (the register function of its
 * `Effect.async`): a fiber that yielded between finding the lock busy and queueing could miss
 * the release that freed it and wait forever.
 */
import * as Effect from "effect/Effect"

interface Waiter {
  readonly exclusive: boolean
  /** Set when the lock was handed over, even if the waiter's fiber was interrupted meanwhile. */
  granted: boolean
  resume: ((effect: Effect.Effect<void>) => void) | undefined
}

export class SessionLock {
  /** Statements holding the lock. */
  private sharedHolders = 0
  private exclusiveHeld = false
  private readonly waiters: Array<Waiter> = []

  /** Takes a shared hold now unless the lock is held alone. */
  tryShared(): boolean {
    if (this.exclusiveHeld) return false
    this.sharedHolders++
    return true
  }

  private tryExclusive(): boolean {
    if (this.exclusiveHeld || this.sharedHolders > 0) return false
    this.exclusiveHeld = true
    return true
  }

  /** Waits for a shared hold (interruptible; an interrupted waiter holds nothing). */
  readonly shared: Effect.Effect<void> = Effect.suspend(() => this.tryShared() ? Effect.void : this.wait(false))

  /** Waits until nothing else holds the lock, then holds it alone (interruptible). */
  readonly exclusive: Effect.Effect<void> = Effect.suspend(() => this.tryExclusive() ? Effect.void : this.wait(true))

  releaseShared(): void {
    this.sharedHolders--
    this.grant()
  }

  releaseExclusive(): void {
    this.exclusiveHeld = false
    this.grant()
  }

  private wait(exclusive: boolean): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      const waiter: Waiter = { exclusive, granted: false, resume }
      // decided again here, in the same step as queueing: the lock may have been released
      // while this fiber yielded after finding it busy
      if (exclusive ? this.tryExclusive() : this.tryShared()) {
        waiter.granted = true
        waiter.resume = undefined
        resume(Effect.void)
      } else {
        this.waiters.push(waiter)
      }
      return Effect.sync(() => {
        if (waiter.granted) {
          // handed over as the fiber was interrupted: give it back
          if (exclusive) this.releaseExclusive()
          else this.releaseShared()
          return
        }
        const i = this.waiters.indexOf(waiter)
        if (i >= 0) this.waiters.splice(i, 1)
      })
    })
  }

  /** Hands the lock to every waiter, in arrival order, that can hold it now. */
  private grant(): void {
    const waiters = this.waiters
    for (let i = 0; i < waiters.length && !this.exclusiveHeld;) {
      const waiter = waiters[i]!
      if (!(waiter.exclusive ? this.tryExclusive() : this.tryShared())) {
        i++
        continue
      }
      waiters.splice(i, 1)
      waiter.granted = true
      const resume = waiter.resume!
      waiter.resume = undefined
      resume(Effect.void)
    }
  }
}
