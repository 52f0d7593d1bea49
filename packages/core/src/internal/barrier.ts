/** @internal */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type { Barrier, Options, Stats } from "../Barrier.ts"
import { BrokenBarrierError } from "../Barrier.ts"
import type { InvalidOptionError } from "../InvalidOption.ts"
import * as InvalidOption from "../InvalidOption.ts"
import * as Instruments from "./metrics.ts"
import * as Registry from "./registry.ts"
import { WaitList } from "./waitList.ts"

type Resume = (effect: Effect.Effect<number, BrokenBarrierError>) => void

class BarrierImpl implements Barrier {
  readonly parties: number
  /** The fibers waiting in the current round, in arrival order (see internal/waitList.ts). */
  private readonly waiters = new WaitList<Resume>()
  /** Why the barrier is broken, or `undefined` while it works. */
  private brokenBy: BrokenBarrierError["reason"] | undefined = undefined
  private rounds = 0
  /** Reports waiting (parties at the barrier now) and acquired (rounds completed), when on. */
  private readonly metrics: Instruments.Instruments | undefined

  constructor(parties: number, metrics: Instruments.Instruments | undefined) {
    this.parties = parties
    this.metrics = metrics
    if (metrics !== undefined) metrics.setWaiting(0)
  }

  readonly await: Effect.Effect<number, BrokenBarrierError> = Effect.callback<number, BrokenBarrierError>(
    (resume) => {
      if (this.brokenBy !== undefined) return resume(Effect.fail(new BrokenBarrierError({ reason: this.brokenBy })))
      if (this.waiters.length + 1 < this.parties) {
        const node = this.waiters.push(resume)
        if (this.metrics !== undefined) this.metrics.setWaiting(this.waiters.length)
        // Interrupted while waiting: leave the round without breaking it. A node already released (drained by a
        // release, an abort or a reset) is no longer linked and this does nothing.
        return Effect.sync(() => {
          this.waiters.remove(node)
          if (this.metrics !== undefined) this.metrics.setWaiting(this.waiters.length)
        })
      }
      // The last party: the round is complete. Indexes are given by arrival order among the fibers still waiting,
      // so they are 0..parties-1 and distinct even after waiters of this round were interrupted (asyncio counts
      // arrivals and can repeat an index in that case). The state is reset before anyone is resumed: a resumed
      // fiber runs inline and may wait again at once, which joins the next round.
      const released = this.waiters.drain()
      this.rounds++
      if (this.metrics !== undefined) {
        this.metrics.setWaiting(0)
        this.metrics.addAcquired()
      }
      resume(Effect.succeed(released.length))
      for (let i = 0; i < released.length; i++) released[i]!(Effect.succeed(i))
    }
  )

  private breakWaiters(reason: BrokenBarrierError["reason"]): void {
    const waiting = this.waiters.drain()
    if (waiting.length === 0) return
    if (this.metrics !== undefined) this.metrics.setWaiting(0)
    const error = Effect.fail(new BrokenBarrierError({ reason }))
    for (const resume of waiting) resume(error)
  }

  readonly abort: Effect.Effect<void> = Effect.sync(() => {
    this.brokenBy = "abort"
    this.breakWaiters("abort")
  })

  readonly reset: Effect.Effect<void> = Effect.sync(() => {
    this.brokenBy = undefined
    this.breakWaiters("reset")
  })

  readonly stats: Effect.Effect<Stats> = Effect.sync(() => ({
    parties: this.parties,
    waiting: this.waiters.length,
    broken: this.brokenBy !== undefined,
    rounds: this.rounds
  }))
}

/** @internal */
export const isBarrier = (u: unknown): u is Barrier => u instanceof BarrierImpl

/** @internal */
export const make = (parties: number, options?: Options): Effect.Effect<Barrier, InvalidOptionError> =>
  Effect.suspend(() => {
    const checked = InvalidOption.int("Barrier.make", "parties", parties, { min: 1 })
    if (Result.isFailure(checked)) return Effect.fail(checked.failure)
    return Effect.map(Instruments.make("Barrier", options), (metrics) => new BarrierImpl(parties, metrics))
      .pipe(Registry.track("Barrier", options))
  })
