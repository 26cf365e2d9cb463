/**
 * The queue of callers waiting for a resource: an intrusive doubly linked list ordered by the
 * time each `get` started, so that
 *
 * - the head is always the oldest caller (FIFO hand-off),
 * - with one `acquireTimeout` for everybody the head also has the earliest deadline, so a
 *   single timer watching the head serves the whole queue,
 * - an interrupted caller leaves in O(1).
 *
 * A caller that re-queues (its resource failed validation) keeps its original start time
 * and so goes back to its place near the front, not to the end.
 */
import type { Effect } from "effect"

/** One caller waiting in `get`. `T` is what it is handed (a pool entry). */
export class Waiter<T, Err> {
  prev: Waiter<T, Err> | undefined = undefined
  next: Waiter<T, Err> | undefined = undefined
  /** Whether this wait counts in `waitCount` (the pool was exhausted, not just creating). */
  counted = false
  /** Whether the waiter is still linked in the queue. */
  queued = false
  /** The entry handed to this waiter (set before it is resumed). */
  entry: T | undefined = undefined
  /** How the waiter resumes, if it was served before it suspended. */
  outcome: Effect.Effect<T, Err> | undefined = undefined
  /** The callback of the suspended `Effect.async`, once it is registered. */
  resume: ((effect: Effect.Effect<T, Err>) => void) | undefined = undefined

  constructor(readonly start: number, readonly deadline: number) {}
}

/** The FIFO of waiters. */
export class WaiterQueue<T, Err> {
  head: Waiter<T, Err> | undefined = undefined
  tail: Waiter<T, Err> | undefined = undefined
  length = 0

  /** Inserts by start time, scanning from the tail (almost always O(1)). */
  insert(waiter: Waiter<T, Err>): void {
    let after = this.tail
    while (after !== undefined && after.start > waiter.start) after = after.prev
    waiter.prev = after
    waiter.next = after === undefined ? this.head : after.next
    if (after === undefined) this.head = waiter
    else after.next = waiter
    if (waiter.next === undefined) this.tail = waiter
    else waiter.next.prev = waiter
    waiter.queued = true
    this.length++
  }

  remove(waiter: Waiter<T, Err>): void {
    if (!waiter.queued) return
    if (waiter.prev === undefined) this.head = waiter.next
    else waiter.prev.next = waiter.next
    if (waiter.next === undefined) this.tail = waiter.prev
    else waiter.next.prev = waiter.prev
    waiter.prev = undefined
    waiter.next = undefined
    waiter.queued = false
    this.length--
  }

  /**
   * Removes the waiter and resumes it with `outcome`. A waiter whose `Effect.async` has not
   * registered yet finds the outcome when it does.
   */
  deliver(waiter: Waiter<T, Err>, outcome: Effect.Effect<T, Err>): void {
    this.remove(waiter)
    waiter.outcome = outcome
    const resume = waiter.resume
    if (resume !== undefined) {
      waiter.resume = undefined
      resume(outcome)
    }
  }
}
