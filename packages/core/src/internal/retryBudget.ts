/** @internal */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as InvalidOption from "../InvalidOption.ts"
import type { InvalidOptionError } from "../InvalidOption.ts"
import type { BudgetOptions, BudgetStats, BudgetTypeId, RetryBudget } from "../Retry.ts"
import * as metrics from "./metrics.ts"

/**
 * Fixed-point units, as in Finagle's `TokenRetryBudget`: a call deposits `ratio × SCALE` units, a retry withdraws
 * `SCALE`, so the ratio arithmetic is exact on integers (no 0.1 + 0.2 drift over millions of calls).
 */
const SCALE = 1000

/** The window is kept as this many slices; a slice's deposits and withdrawals expire together. */
const SLICES = 10

/** @internal */
export class BudgetImpl implements RetryBudget {
  readonly ["~@async-ops/core/Retry/RetryBudget"]: BudgetTypeId = "~@async-ops/core/Retry/RetryBudget"
  readonly name: string
  private readonly clock: Clock.Clock
  private readonly instruments: metrics.Instruments | undefined
  private readonly sliceMillis: number
  private readonly depositUnits: number
  private readonly reserveUnits: number
  /** Net units per slice (deposits minus withdrawals), a ring indexed by slice number modulo SLICES. */
  private readonly units: Array<number> = Array.from({ length: SLICES }, () => 0)
  /** The slice number each ring entry holds (an entry of an older slice is stale and counts as 0). */
  private readonly epochs: Array<number> = Array.from({ length: SLICES }, () => Number.NEGATIVE_INFINITY)
  calls = 0
  retries = 0
  rejected = 0

  constructor(
    name: string,
    clock: Clock.Clock,
    instruments: metrics.Instruments | undefined,
    ratio: number,
    minRetriesPerSecond: number,
    windowMillis: number
  ) {
    this.name = name
    this.clock = clock
    this.instruments = instruments
    this.sliceMillis = windowMillis / SLICES
    this.depositUnits = Math.round(ratio * SCALE)
    this.reserveUnits = Math.round(minRetriesPerSecond * (windowMillis / 1000) * SCALE)
    instruments?.setLimit(this.availableUnsafe())
  }

  /** Adds `delta` units to the current slice, clearing it first if it holds an expired slice. */
  private add(delta: number, slice: number): void {
    const i = slice % SLICES
    if (this.epochs[i] !== slice) {
      this.epochs[i] = slice
      this.units[i] = delta
    } else {
      this.units[i] = this.units[i]! + delta
    }
  }

  /** The units available now: the reserve plus the net units of the slices still inside the window. */
  private balance(slice: number): number {
    let sum = this.reserveUnits
    for (let i = 0; i < SLICES; i++) {
      if (this.epochs[i]! > slice - SLICES) sum += this.units[i]!
    }
    return sum
  }

  private currentSlice(): number {
    return Math.floor(this.clock.currentTimeMillisUnsafe() / this.sliceMillis)
  }

  availableUnsafe(): number {
    return Math.max(0, Math.floor(this.balance(this.currentSlice()) / SCALE))
  }

  depositUnsafe(): void {
    this.calls++
    if (this.depositUnits > 0) this.add(this.depositUnits, this.currentSlice())
    this.instruments?.setLimit(this.availableUnsafe())
  }

  tryWithdrawUnsafe(): boolean {
    const slice = this.currentSlice()
    if (this.balance(slice) >= SCALE) {
      this.add(-SCALE, slice)
      this.retries++
      if (this.instruments !== undefined) {
        this.instruments.addAcquired()
        this.instruments.setLimit(this.availableUnsafe())
      }
      return true
    }
    this.rejected++
    this.instruments?.addRejected()
    return false
  }

  readonly deposit: Effect.Effect<void> = Effect.sync(() => this.depositUnsafe())

  readonly tryWithdraw: Effect.Effect<boolean> = Effect.sync(() => this.tryWithdrawUnsafe())

  readonly stats: Effect.Effect<BudgetStats> = Effect.sync(() => ({
    name: this.name,
    calls: this.calls,
    retries: this.retries,
    rejected: this.rejected,
    available: this.availableUnsafe()
  }))
}

const module = "Retry.makeBudget"

/** @internal */
export const makeBudget = (options?: BudgetOptions): Effect.Effect<RetryBudget, InvalidOptionError> =>
  Effect.gen(function*() {
    const ratio = yield* Effect.fromResult(
      InvalidOption.number(module, "ratio", options?.ratio ?? 0.2, { min: 0, max: 1 })
    )
    const minRetriesPerSecond = yield* Effect.fromResult(
      InvalidOption.number(module, "minRetriesPerSecond", options?.minRetriesPerSecond ?? 10, { min: 0 })
    )
    const windowMillis = options?.window === undefined
      ? 10_000
      : Duration.toMillis(
        yield* Effect.fromResult(
          InvalidOption.duration(module, "window", options.window, { exclusive: true, finite: true })
        )
      )
    const instruments = yield* metrics.make("RetryBudget", options)
    const clock = yield* Clock.Clock
    return new BudgetImpl(
      options?.name ?? "RetryBudget",
      clock,
      instruments,
      ratio,
      minRetriesPerSecond,
      windowMillis
    )
  })
