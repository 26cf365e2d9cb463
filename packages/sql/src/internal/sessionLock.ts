/**
 * The read/write lock of a session: statements share it, a savepoint, a cursor on a pinned
 * connection or the session's close holds it alone. Waiters are served in arrival order, so a
 * stream of statements cannot starve a savepoint that asked first.
 *
 * A free shared hold is taken synchronously (`tryShared`), without the asynchronous wait and the
 * release region of `Effect.Semaphore#withPermits`: that is the path of every statement of a
 * transaction.
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

  /** Takes a shared hold now if nothing holds or waits for the lock exclusively. */
  tryShared(): boolean {
    if (this.exclusiveHeld || this.waiters.length > 0) return false
    this.sharedHolders++
    return true
  }

  /** Waits for a shared hold (interruptible; an interrupted waiter holds nothing). */
  readonly shared: Effect.Effect<void> = Effect.suspend(() => this.tryShared() ? Effect.void : this.wait(false))

  /** Waits until nothing else holds the lock, then holds it alone (interruptible). */
  readonly exclusive: Effect.Effect<void> = Effect.suspend(() => {
    if (!this.exclusiveHeld && this.sharedHolders === 0 && this.waiters.length === 0) {
      this.exclusiveHeld = true
      return Effect.void
    }
    return this.wait(true)
  })

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
      this.waiters.push(waiter)
      return Effect.sync(() => {
        if (waiter.granted) {
          // handed over as the fiber was interrupted: give it back
          if (exclusive) this.releaseExclusive()
          else this.releaseShared()
          return
        }
        const i = this.waiters.indexOf(waiter)
        if (i >= 0) this.waiters.splice(i, 1)
        // an exclusive waiter at the head may have been holding back shared ones behind it
        this.grant()
      })
    })
  }

  /** Hands the lock to the waiters at the head of the queue that can hold it now. */
  private grant(): void {
    const waiters = this.waiters
    while (waiters.length > 0 && !this.exclusiveHeld) {
      const head = waiters[0]!
      if (head.exclusive) {
        if (this.sharedHolders > 0) return
        this.exclusiveHeld = true
      } else {
        this.sharedHolders++
      }
      waiters.shift()
      head.granted = true
      const resume = head.resume!
      head.resume = undefined
      resume(Effect.void)
    }
  }
}
