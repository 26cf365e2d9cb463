/**
 * Micro-benchmark of one acquire + release cycle: `@berth/pool` against Effect's built-in
 * `Pool` and a bare `Semaphore` (+ array of resources) baseline, uncontended (one fiber) and
 * contended (64 fibers on 10 resources, each holding across a `yieldNow`). Rounds alternate
 * between contenders; medians are reported with the ratio to the semaphore + array baseline.
 *
 *   node --conditions=source --import tsx packages/pool/bench/cycle.ts [cycles] [rounds]
 */
import { Effect, Pool as EffectPool, type Scope } from "effect"
import { Pool } from "../src/index.js"

const cycles = Number(process.argv[2] ?? 200_000)
const rounds = Number(process.argv[3] ?? 7)
const size = 10
const fibers = 64

interface Contender {
  readonly name: string
  readonly make: Effect.Effect<(work: Effect.Effect<void>) => Effect.Effect<void>, never, Scope.Scope>
}

const contenders: ReadonlyArray<Contender> = [
  {
    name: "Semaphore + array (baseline)",
    make: Effect.gen(function*() {
      const sem = yield* Effect.makeSemaphore(size)
      const free = Array.from({ length: size }, (_, i) => ({ id: i }))
      return (work) =>
        sem.withPermits(1)(Effect.acquireUseRelease(
          Effect.sync(() => free.pop()!),
          () => work,
          (r) => Effect.sync(() => free.push(r))
        ))
    })
  },
  {
    name: "bare Semaphore",
    make: Effect.gen(function*() {
      const sem = yield* Effect.makeSemaphore(size)
      return (work) => sem.withPermits(1)(work)
    })
  },
  {
    name: "effect/Pool (Effect.scoped(get))",
    make: Effect.gen(function*() {
      let n = 0
      const pool = yield* EffectPool.make({ acquire: Effect.sync(() => ({ id: n++ })), size })
      return (work) => Effect.scoped(Effect.zipRight(pool.get, work))
    })
  },
  {
    name: "@berth/pool Pool.use",
    make: Effect.gen(function*() {
      let n = 0
      const pool = yield* Pool.make({ acquire: Effect.sync(() => ({ id: n++ })), maxOpen: size, metrics: true })
      return (work) => Pool.use(pool, () => work)
    })
  },
  {
    name: "@berth/pool Effect.scoped(get)",
    make: Effect.gen(function*() {
      let n = 0
      const pool = yield* Pool.make({ acquire: Effect.sync(() => ({ id: n++ })), maxOpen: size })
      return (work) => Effect.scoped(Effect.zipRight(Pool.get(pool), work))
    })
  }
]

const measure = (contender: Contender, contended: boolean) =>
  Effect.scoped(Effect.gen(function*() {
    const cycle = yield* contender.make
    const work = contended ? Effect.yieldNow() : Effect.void
    const one = cycle(work)
    // warm up (creates the resources)
    yield* Effect.forEach(Array.from({ length: size }), () => one, { concurrency: size, discard: true })
    const start = performance.now()
    if (contended) {
      const per = Math.floor(cycles / fibers)
      yield* Effect.forEach(Array.from({ length: fibers }), () => Effect.repeatN(one, per - 1), {
        concurrency: "unbounded",
        discard: true
      })
    } else {
      yield* Effect.repeatN(one, cycles - 1)
    }
    return ((performance.now() - start) * 1e6) / cycles // ns per cycle
  }))

const median = (xs: Array<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

const main = Effect.gen(function*() {
  const modes = process.argv[4] === "contended" ? [true] : process.argv[4] === "uncontended" ? [false] : [false, true]
  for (const contended of modes) {
    const samples = new Map<string, Array<number>>(contenders.map((c) => [c.name, []]))
    for (let round = 0; round < rounds; round++) {
      for (const contender of contenders) samples.get(contender.name)!.push(yield* measure(contender, contended))
    }
    const baseline = median(samples.get(contenders[0]!.name)!)
    console.log(
      `\n${
        contended ? `contended (${fibers} fibers, ${size} resources)` : "uncontended (1 fiber)"
      }: ${cycles} cycles x ${rounds} rounds`
    )
    console.log("| contender | ns / cycle (median) | vs baseline |\n| --- | ---: | ---: |")
    for (const contender of contenders) {
      const m = median(samples.get(contender.name)!)
      console.log(`| ${contender.name} | ${m.toFixed(0)} | ${(m / baseline).toFixed(2)}x |`)
    }
  }
})

Effect.runPromise(main)
