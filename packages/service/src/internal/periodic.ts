/** @internal */
import * as Election from "@async-ops/core/Election"
import * as InvalidOption from "@async-ops/core/InvalidOption"
import { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Registry from "@async-ops/core/Registry"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Cron from "effect/Cron"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Pull from "effect/Pull"
import * as Random from "effect/Random"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import type { Options, Overlap, Periodic, Stats } from "../Periodic.ts"
import { durationHistogram, failuresCounter, PeriodicTimeoutError, runsCounter, skippedCounter } from "../Periodic.ts"

const MODULE = "Periodic.make"

interface Config {
  readonly name: string
  readonly schedule: Schedule.Schedule<unknown, unknown>
  readonly jitter: number
  readonly overlap: Overlap
  readonly timeout: number | undefined
  readonly runOnStart: boolean
  readonly onStop: "interrupt" | "await"
  readonly stopTimeout: number
  readonly singleton: string | undefined
}

const invalid = (option: string, expected: string, value: unknown) =>
  Effect.fail(new InvalidOptionError({ module: MODULE, option, expected, value }))

/** A finite duration > 0 in milliseconds. */
const positiveFinite = (option: string, value: Duration.Input) =>
  Effect.fromResult(
    Result.map(InvalidOption.duration(MODULE, option, value, { exclusive: true, finite: true }), Duration.toMillis)
  )

const validate = (options: Options): Effect.Effect<Config, InvalidOptionError> =>
  Effect.gen(function*() {
    const sources = [options.every, options.cron, options.schedule].filter((s) => s !== undefined).length
    if (sources !== 1) {
      return yield* invalid("every/cron/schedule", "exactly one of every, cron and schedule", sources)
    }
    let schedule: Schedule.Schedule<unknown, unknown>
    if (options.every !== undefined) {
      schedule = Schedule.fixed(yield* positiveFinite("every", options.every))
    } else if (options.cron !== undefined) {
      const cron = options.cron
      if (Cron.isCron(cron)) schedule = Schedule.cron(cron) as Schedule.Schedule<unknown, unknown>
      else {
        const parsed = typeof cron === "string" ? Cron.parse(cron, options.timeZone ?? "UTC") : undefined
        if (parsed === undefined || Result.isFailure(parsed)) {
          const reason = parsed === undefined ? "not a string" : parsed.failure.message
          return yield* invalid("cron", `a cron expression or a Cron (${reason})`, cron)
        }
        schedule = Schedule.cron(parsed.success) as Schedule.Schedule<unknown, unknown>
      }
    } else {
      schedule = options.schedule!
    }
    const [jitter, overlap, onStop] = yield* Effect.fromResult(Result.all([
      InvalidOption.number(MODULE, "jitter", options.jitter ?? 0, { min: 0, max: 1, exclusiveMax: true }),
      InvalidOption.oneOf(MODULE, "overlap", options.overlap ?? "skip", ["skip", "wait"]),
      InvalidOption.oneOf(MODULE, "onStop", options.onStop ?? "interrupt", ["interrupt", "await"])
    ]))
    const timeout = options.timeout === undefined ? undefined : yield* positiveFinite("timeout", options.timeout)
    const stopTimeout = options.stopTimeout === undefined
      ? 30_000
      : Duration.toMillis(yield* Effect.fromResult(InvalidOption.duration(MODULE, "stopTimeout", options.stopTimeout)))
    const singleton = options.singleton
    if (singleton !== undefined && (typeof singleton !== "string" || singleton === "")) {
      return yield* invalid("singleton", "a non-empty string (the election key)", singleton)
    }
    return {
      singleton,
      name: options.name ?? "periodic",
      schedule,
      jitter,
      overlap,
      timeout,
      runOnStart: options.runOnStart === true,
      onStop,
      stopTimeout
    }
  })

/** The metrics of a task made with `metrics: true`, bound to the constructor's context. */
class Instruments {
  readonly context: Context.Context<never>
  readonly runs: Metric.Counter<number>
  readonly failures: Metric.Counter<number>
  readonly skipped: Metric.Counter<number>
  readonly duration: Metric.Histogram<number>

  constructor(name: string, context: Context.Context<never>) {
    const attributes = { primitive: "Periodic", name }
    this.context = context
    this.runs = Metric.withAttributes(runsCounter, attributes)
    this.failures = Metric.withAttributes(failuresCounter, attributes)
    this.skipped = Metric.withAttributes(skippedCounter, attributes)
    this.duration = Metric.withAttributes(durationHistogram, attributes)
  }
  add(counter: Metric.Counter<number>): void {
    counter.updateUnsafe(1, this.context)
  }
}

class PeriodicImpl<E> implements Periodic<E> {
  readonly name: string
  runs = 0
  successes = 0
  failures = 0
  skipped = 0
  finished = 0
  lastRunAt: number | undefined = undefined
  lastDuration: number | undefined = undefined
  lastError: Cause.Cause<E | PeriodicTimeoutError> | undefined = undefined
  nextRunAt: number | undefined = undefined
  running = false
  pending = false
  stopped = false
  tickerDone = false
  current: Fiber.Fiber<unknown, unknown> | undefined = undefined
  readonly waiters: Array<{ readonly n: number; readonly deferred: Deferred.Deferred<void> }> = []
  readonly ended = Deferred.makeUnsafe<void>()
  readonly run: Effect.Effect<void>
  readonly config: Config
  readonly runScope: Scope.Scope
  readonly metrics: Instruments | undefined

  constructor(
    config: Config,
    task: Effect.Effect<unknown, E>,
    runScope: Scope.Scope,
    metrics: Instruments | undefined
  ) {
    this.config = config
    this.runScope = runScope
    this.metrics = metrics
    this.name = config.name
    const timeout = config.timeout
    const timed: Effect.Effect<unknown, E | PeriodicTimeoutError> = timeout === undefined
      ? task
      : Effect.timeoutOrElse(task, {
        duration: timeout,
        orElse: () => Effect.fail(new PeriodicTimeoutError({ name: config.name, timeout }))
      })
    this.run = Effect.gen({ self: this }, function*() {
      const start = yield* Clock.currentTimeMillis
      this.runs++
      if (metrics !== undefined) metrics.add(metrics.runs)
      this.lastRunAt = start
      const exit = yield* Effect.exit(timed)
      this.lastDuration = (yield* Clock.currentTimeMillis) - start
      if (metrics !== undefined) metrics.duration.updateUnsafe(this.lastDuration, metrics.context)
      if (Exit.isSuccess(exit)) this.successes++
      else if (!Cause.hasInterruptsOnly(exit.cause)) {
        this.failures++
        if (metrics !== undefined) metrics.add(metrics.failures)
        this.lastError = exit.cause
        yield* Effect.logWarning(`Periodic ${config.name}: run failed`, exit.cause).pipe(
          Effect.annotateLogs({ periodic: config.name })
        )
      }
      this.finished++
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        const waiter = this.waiters[i]!
        if (this.finished >= waiter.n) {
          this.waiters.splice(i, 1)
          Deferred.doneUnsafe(waiter.deferred, Exit.void)
        }
      }
    }).pipe(Effect.onExit(() => Effect.suspend(() => this.afterRun())))
  }

  private afterRun(): Effect.Effect<void> {
    this.running = false
    this.current = undefined
    if (this.pending && !this.stopped) {
      this.pending = false
      return this.start
    }
    if (this.tickerDone) Deferred.doneUnsafe(this.ended, Exit.void)
    return Effect.void
  }

  readonly start: Effect.Effect<void> = Effect.suspend(() => {
    this.running = true
    return Effect.map(Effect.forkIn(this.run, this.runScope), (fiber) => {
      if (this.running) this.current = fiber
    })
  })

  readonly tick: Effect.Effect<"started" | "queued" | "skipped" | "stopped"> = Effect.suspend(() => {
    if (this.stopped) return Effect.succeed("stopped" as const)
    if (this.running) {
      if (this.config.overlap === "wait" && !this.pending) {
        this.pending = true
        return Effect.succeed("queued" as const)
      }
      this.skipped++
      if (this.metrics !== undefined) this.metrics.add(this.metrics.skipped)
      return Effect.as(
        Effect.logDebug(`Periodic ${this.name}: tick skipped, a run is in progress`),
        "skipped" as const
      )
    }
    return Effect.as(this.start, "started" as const)
  })

  readonly trigger = this.tick

  readonly ticker: Effect.Effect<void> = Effect.gen({ self: this }, function*() {
    const step = yield* Schedule.toStep(this.config.schedule)
    if (this.config.runOnStart) yield* this.tick
    while (true) {
      const now = yield* Clock.currentTimeMillis
      const gap = yield* step(now, undefined).pipe(
        Effect.map(([, delay]) => Duration.toMillis(delay)),
        Pull.catchDone(() => Effect.succeed(undefined)),
        Effect.orDie
      )
      if (gap === undefined) break
      const jitter = this.config.jitter > 0 ? Math.floor((yield* Random.next) * this.config.jitter * gap) : 0
      const delay = gap + jitter
      this.nextRunAt = now + delay
      yield* Effect.sleep(delay)
      yield* this.tick
    }
    this.nextRunAt = undefined
    this.tickerDone = true
    if (!this.running) Deferred.doneUnsafe(this.ended, Exit.void)
  })

  /**
   * Ends the run in progress before a singleton's ticker gives up its lease: on a stop, as `onStop` says; on a lost
   * lease, by interruption.
   */
  readonly settleRun: Effect.Effect<void> = Effect.suspend(() => {
    const current = this.current
    if (current === undefined) return Effect.void
    // the schedule ended: its last run finishes under the lease
    if (this.tickerDone && !this.stopped) return Effect.asVoid(Fiber.await(current))
    if (this.stopped && this.config.onStop === "await") {
      return Effect.andThen(
        Effect.timeoutOption(Fiber.await(current), this.config.stopTimeout),
        Fiber.interrupt(current)
      )
    }
    return Fiber.interrupt(current)
  })

  stop(ticker: Fiber.Fiber<void>): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.stopped = true
      this.pending = false
      this.nextRunAt = undefined
      const current = this.current
      const awaitRun = current === undefined
        ? Effect.void
        : this.config.onStop === "await"
        ? Effect.andThen(
          Effect.timeoutOption(Fiber.await(current), this.config.stopTimeout),
          Fiber.interrupt(current)
        )
        : Fiber.interrupt(current)
      return Effect.andThen(Fiber.interrupt(ticker), awaitRun)
    })
  }

  readonly awaitRuns = (n: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (this.finished >= n) return Effect.void
      const deferred = Deferred.makeUnsafe<void>()
      this.waiters.push({ n, deferred })
      return Deferred.await(deferred)
    })

  readonly stats: Effect.Effect<Stats<E>> = Effect.sync(() => ({
    name: this.name,
    runs: this.runs,
    successes: this.successes,
    failures: this.failures,
    skipped: this.skipped,
    lastRunAt: this.lastRunAt,
    lastDuration: this.lastDuration,
    lastError: this.lastError,
    nextRunAt: this.nextRunAt,
    running: this.running,
    pending: this.pending
  }))
}

/** @internal */
export const make = <A, E, R>(
  task: Effect.Effect<A, E, R>,
  options: Options
): Effect.Effect<Periodic<E>, InvalidOptionError, R | Scope.Scope> =>
  Effect.gen(function*() {
    const config = yield* validate(options)
    const context = yield* Effect.context<R>()
    const scope = yield* Effect.scope
    // Runs and the ticker live in a child scope that closes after the stop finalizer below (finalizers run in
    // reverse order), so that `onStop: "await"` can await a run before anything interrupts it.
    const runScope = yield* Scope.fork(scope, "sequential")
    const metrics = options.metrics === true ? new Instruments(config.name, yield* Effect.context<never>()) : undefined
    const impl = new PeriodicImpl<E>(config, Effect.provideContext(task, context), runScope, metrics)
    const ticking = config.singleton === undefined
      ? impl.ticker
      : Election.runSingleton(config.singleton, Effect.ensuring(impl.ticker, impl.settleRun))
    const ticker = yield* Effect.forkIn(ticking, runScope, { startImmediately: true })
    yield* Effect.addFinalizer(() => impl.stop(ticker))
    yield* Registry.register({ kind: "Periodic", name: config.name, stats: Effect.map(impl.stats, registryStats) })
    return impl
  })

/** @internal */
export const run = <A, E, R>(
  task: Effect.Effect<A, E, R>,
  options: Options
): Effect.Effect<void, InvalidOptionError, R> =>
  Effect.scoped(Effect.flatMap(make(task, options), (periodic) => Deferred.await((periodic as PeriodicImpl<E>).ended)))

/** The stats as the registry shows them: the last error as its pretty-printed text. */
const registryStats = <E>({ lastError, ...stats }: Stats<E>) => ({
  ...stats,
  lastError: lastError === undefined ? undefined : Cause.pretty(lastError)
})
