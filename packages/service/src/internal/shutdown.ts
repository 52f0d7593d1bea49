/**
 * The shutdown orchestrator: one timeline (draining, drain delay, stopping: drainables then finalizers) under one
 * budget, driven by signals or `trigger`, timed with `Clock`.
 *
 * @internal
 */
import * as InvalidOption from "@async-ops/core/InvalidOption"
import { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Registry from "@async-ops/core/Registry"
import type { Middleware } from "@async-ops/http/ServerKit"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as Health from "../Health.ts"
import type {
  Options,
  Outcome,
  Phase,
  PhaseEntry,
  Report,
  ServerOptions,
  Shutdown as ShutdownShape,
  Signal,
  Stats,
  StepReport,
  StepStatus
} from "../Shutdown.ts"

/** @internal */
/** @internal */
export type Shutdown = ShutdownShape
/** @internal */
export const Shutdown: Context.Service<Shutdown, Shutdown> = Context.Service<Shutdown>("@async-ops/service/Shutdown")

/** @internal */
export interface Resolved {
  readonly budget: Duration.Duration
  readonly drainDelay: Duration.Duration
  readonly signals: ReadonlyArray<Signal>
}

const KNOWN_SIGNALS: ReadonlyArray<string> = ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"]

const decode = (value: Duration.Input): Duration.Duration | undefined => {
  if (typeof value === "number") return Number.isNaN(value) ? undefined : Duration.millis(value)
  if (Duration.isDuration(value)) return value
  return Option.getOrUndefined(Duration.fromInput(value))
}

/** @internal */
export const validate = (module: string, options: Options | undefined): Effect.Effect<Resolved, InvalidOptionError> =>
  Effect.suspend(() => {
    const checked = InvalidOption.duration(module, "budget", options?.budget ?? Duration.seconds(30), {
      exclusive: true,
      finite: true
    })
    if (Result.isFailure(checked)) return Effect.fail(checked.failure)
    const budget = checked.success
    const budgetMs = Duration.toMillis(budget)
    const delayInput = options?.drainDelay ?? Duration.seconds(5)
    const drainDelay = decode(delayInput)
    const delayMs = drainDelay === undefined ? Number.NaN : Duration.toMillis(drainDelay)
    if (drainDelay === undefined || Number.isNaN(delayMs) || delayMs < 0 || delayMs >= budgetMs) {
      return Effect.fail(
        new InvalidOptionError({
          module,
          option: "drainDelay",
          expected: "a duration >= 0 and shorter than budget",
          value: delayInput
        })
      )
    }
    const signals = options?.signals ?? ["SIGTERM", "SIGINT"]
    if (!Array.isArray(signals) || signals.some((s) => !KNOWN_SIGNALS.includes(s))) {
      return Effect.fail(
        new InvalidOptionError({
          module,
          option: "signals",
          expected: `an array of ${KNOWN_SIGNALS.join(", ")}`,
          value: signals
        })
      )
    }
    return Effect.succeed({ budget, drainDelay, signals: [...new Set(signals)] })
  })

interface Drainable {
  readonly name: string
  readonly drain: Effect.Effect<unknown, unknown>
}

interface Step {
  readonly name: string
  readonly kind: StepReport["kind"]
  status: StepStatus
  startedAt: number | undefined
  endedAt: number | undefined
  error: string | undefined
}

interface Main {
  readonly fiber: Fiber.Fiber<unknown, unknown>
}

const exitCodeOf = (outcome: Outcome): number | undefined => {
  switch (outcome) {
    case "clean":
    case "completed":
      return 0
    case "failed":
    case "overrun":
      return 1
    case "forced":
      return 130
    default:
      return undefined
  }
}

/** @internal */
export class ShutdownImpl implements ShutdownShape {
  readonly phase: SubscriptionRef.SubscriptionRef<Phase>
  private readonly options: Resolved
  private readonly scope: Scope.Scope
  private readonly done: Deferred.Deferred<Report>
  private readonly forced: Deferred.Deferred<void>
  private readonly drainables = new Set<Drainable>()
  private main: Main | undefined = undefined
  private triggers = 0
  private reason: string | undefined = undefined
  private startedAt: number | undefined = undefined
  private endedAt: number | undefined = undefined
  private outcome: Outcome = "running"
  private steps: Array<Step> = []
  private readonly phases: Array<PhaseEntry> = []
  /** Set when the budget passed or the stop was forced: late step results no longer change the report. */
  private cut = false

  constructor(
    options: Resolved,
    scope: Scope.Scope,
    phase: SubscriptionRef.SubscriptionRef<Phase>,
    done: Deferred.Deferred<Report>,
    forced: Deferred.Deferred<void>
  ) {
    this.options = options
    this.scope = scope
    this.phase = phase
    this.done = done
    this.forced = forced
  }

  readonly trigger = (reason?: string): Effect.Effect<void> =>
    Effect.suspend(() => {
      this.triggers++
      if (this.triggers === 1 && this.outcome === "running") {
        this.reason = reason ?? "trigger"
        this.outcome = "in-progress"
        return Effect.asVoid(Effect.forkIn(this.timeline, this.scope, { startImmediately: true }))
      }
      if (this.outcome === "in-progress") {
        return Effect.logWarning(`shutdown: ${reason ?? "trigger"} again during shutdown, forcing an immediate stop`)
          .pipe(Effect.andThen(Deferred.succeed(this.forced, undefined)), Effect.asVoid)
      }
      return Effect.void
    })

  readonly register = <A, E, R>(
    name: string,
    drain: Effect.Effect<A, E, R>
  ): Effect.Effect<void, never, Scope.Scope | R> =>
    Effect.flatMap(Effect.context<R>(), (context) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          const entry: Drainable = { name, drain: Effect.provideContext(drain, context) }
          this.drainables.add(entry)
          return entry
        }),
        (entry) => Effect.sync(() => this.drainables.delete(entry))
      )).pipe(Effect.asVoid)

  readonly report: Effect.Effect<Report> = Effect.flatMap(
    Clock.currentTimeMillis,
    (now) => Effect.sync(() => this.snapshot(now))
  )

  readonly awaitDone: Effect.Effect<Report> = Effect.suspend(() => Deferred.await(this.done))

  readonly isShuttingDown: Effect.Effect<boolean> = Effect.sync(() =>
    this.outcome !== "running" && this.outcome !== "completed"
  )

  readonly stats: Effect.Effect<Stats> = Effect.suspend(() => SubscriptionRef.get(this.phase)).pipe(
    Effect.map((phase) => ({
      phase,
      outcome: this.outcome,
      triggers: this.triggers,
      drainables: this.drainables.size
    }))
  )

  /** Runs `program` as the service's main fiber: its scope is closed in the timeline's last step. @internal */
  readonly run = <A, E, R>(program: Effect.Effect<A, E, R>): Effect.Effect<Report, E, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen({ self: this }, function*() {
        // Detached, so that after an overrun or a forced stop the report comes back without waiting for the
        // program's finalizers (a child fiber would make this fiber wait for them as it ends). It is not dropped:
        // the timeline interrupts it, and so does every other way out of here.
        const fiber = yield* Effect.forkDetach(restore(program), { startImmediately: true })
        this.main = { fiber }
        return yield* restore(this.awaitMain(fiber)).pipe(Effect.onInterrupt(() => Fiber.interrupt(fiber)))
      })
    )

  private awaitMain<A, E>(fiber: Fiber.Fiber<A, E>): Effect.Effect<Report, E> {
    return Effect.gen({ self: this }, function*() {
      const first = yield* Effect.raceFirst(
        Effect.map(Fiber.await(fiber), (exit) => ({ _tag: "exit" as const, exit })),
        Effect.map(Deferred.await(this.done), (report) => ({ _tag: "report" as const, report }))
      )
      if (first._tag === "report") return first.report
      if (this.outcome !== "running") return yield* Deferred.await(this.done)
      this.main = undefined
      if (first.exit._tag === "Failure") return yield* Effect.failCause(first.exit.cause)
      this.outcome = "completed"
      const now = yield* Clock.currentTimeMillis
      const report = this.snapshot(now)
      yield* Deferred.succeed(this.done, report)
      return report
    })
  }

  /** Installs one `process.on` handler per signal, removed when the scope closes. @internal */
  readonly installSignals: Effect.Effect<void, never, Scope.Scope> = Effect.gen({ self: this }, function*() {
    const context = yield* Effect.context<never>()
    const run = Effect.runForkWith(context)
    for (const signal of this.options.signals) {
      const handler = () => {
        run(this.trigger(signal))
      }
      yield* Effect.acquireRelease(
        Effect.sync(() => process.on(signal, handler)),
        () => Effect.sync(() => process.off(signal, handler))
      )
    }
  })

  private setPhase(phase: Phase): Effect.Effect<void> {
    return Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.andThen(
        Effect.sync(() => this.phases.push({ phase, atMs: now - (this.startedAt ?? now) })),
        SubscriptionRef.set(this.phase, phase)
      )).pipe(
        Effect.andThen(Effect.log(`shutdown phase ${phase}`)),
        Effect.annotateLogs({ "shutdown.phase": phase })
      )
  }

  private runStep(step: Step, effect: Effect.Effect<unknown, unknown>): Effect.Effect<void> {
    return Effect.gen({ self: this }, function*() {
      step.status = "running"
      step.startedAt = yield* Clock.currentTimeMillis
      const exit = yield* Effect.exit(effect)
      if (this.cut) return
      step.endedAt = yield* Clock.currentTimeMillis
      if (exit._tag === "Success") {
        step.status = "done"
      } else {
        step.status = "failed"
        step.error = Cause.pretty(exit.cause).split("\n")[0]
        yield* Effect.logError(`shutdown: ${step.kind} ${step.name} failed`, exit.cause)
      }
    })
  }

  private readonly timeline: Effect.Effect<void> = Effect.gen({ self: this }, function*() {
    const startedAt = yield* Clock.currentTimeMillis
    this.startedAt = startedAt
    const budgetMs = Duration.toMillis(this.options.budget)
    yield* this.setPhase("draining").pipe(Effect.annotateLogs({ "shutdown.reason": this.reason ?? "trigger" }))
    const delay: Step = mkStep("drain delay", "delay")
    const drains = [...this.drainables].toReversed().map((d) => ({ d, step: mkStep(d.name, "drain") }))
    const finalizers: Step = mkStep("finalizers", "finalizers")
    this.steps = [delay, ...drains.map((x) => x.step), finalizers]
    const sequence = Effect.gen({ self: this }, function*() {
      yield* this.runStep(delay, Effect.sleep(this.options.drainDelay))
      yield* this.setPhase("stopping")
      for (const { d, step } of drains) {
        yield* this.runStep(step, d.drain)
      }
      const main = this.main
      yield* this.runStep(
        finalizers,
        main === undefined ? Effect.void : Effect.andThen(
          Effect.sync(() => main.fiber.interruptUnsafe()),
          Fiber.await(main.fiber)
        )
      )
    })
    // Detached and raced rather than `Effect.timeout`ed: a step in an uninterruptible region (closing a scope
    // waits for its finalizers) would hold a timeout until it ends, and the budget must end the shutdown on time.
    const steps = yield* Effect.forkDetach(sequence, { startImmediately: true })
    const result = yield* Effect.raceAllFirst([
      Effect.as(Fiber.await(steps), "ok" as const),
      Effect.as(Effect.sleep(Duration.millis(budgetMs)), "overrun" as const),
      Effect.as(Deferred.await(this.forced), "forced" as const)
    ]).pipe(Effect.onInterrupt(() => Fiber.interrupt(steps)))
    const endedAt = yield* Clock.currentTimeMillis
    if (result !== "ok") {
      // Interrupted, not waited for: what it was doing is cut off and reported as such.
      this.cut = true
      steps.interruptUnsafe()
      for (const step of this.steps) {
        if (step.status === "running") {
          step.status = "cut-off"
          step.endedAt = endedAt
        } else if (step.status === "pending") {
          step.status = "skipped"
        }
      }
      // Whatever was not reached is not waited for, but the main program is still told to stop.
      const main = this.main
      if (main !== undefined) main.fiber.interruptUnsafe()
    }
    this.outcome = result === "forced"
      ? "forced"
      : result === "overrun"
      ? "overrun"
      : this.steps.some((s) => s.status === "failed")
      ? "failed"
      : "clean"
    this.endedAt = endedAt
    yield* this.setPhase("stopped")
    const report = this.snapshot(endedAt)
    const cut = report.cutOff.length === 0 ? "" : `; cut off: ${report.cutOff.join(", ")}`
    const message = `shutdown ${report.outcome} after ${report.elapsedMs} ms${cut}`
    yield* (this.outcome === "clean" ? Effect.log(message) : Effect.logWarning(message)).pipe(
      Effect.annotateLogs({ "shutdown.outcome": this.outcome, "shutdown.exit_code": report.exitCode ?? -1 })
    )
    yield* Deferred.succeed(this.done, report)
  })

  private snapshot(now: number): Report {
    const start = this.startedAt
    const steps: Array<StepReport> = this.steps.map((s) => ({
      name: s.name,
      kind: s.kind,
      status: s.status,
      durationMs: s.startedAt === undefined ? 0 : (s.endedAt ?? now) - s.startedAt,
      ...(s.error === undefined ? {} : { error: s.error })
    }))
    return {
      outcome: this.outcome,
      reason: this.reason,
      phases: [...this.phases],
      steps,
      cutOff: steps.filter((s) => s.status === "cut-off" || s.status === "skipped").map((s) => s.name),
      elapsedMs: start === undefined ? 0 : (this.endedAt ?? now) - start,
      exitCode: exitCodeOf(this.outcome)
    }
  }
}

const mkStep = (name: string, kind: StepReport["kind"]): Step => ({
  name,
  kind,
  status: "pending",
  startedAt: undefined,
  endedAt: undefined,
  error: undefined
})

/** @internal */
export const make = (options?: Options): Effect.Effect<ShutdownShape, InvalidOptionError, Scope.Scope> =>
  Effect.gen(function*() {
    const resolved = yield* validate("Shutdown.make", options)
    const scope = yield* Effect.scope
    const phase = yield* SubscriptionRef.make<Phase>("running")
    const done = yield* Deferred.make<Report>()
    const forced = yield* Deferred.make<void>()
    const impl = new ShutdownImpl(resolved, scope, phase, done, forced)
    yield* impl.installSignals
    yield* Registry.register({ kind: "Shutdown", name: "shutdown", stats: impl.stats })
    // Readiness fails from the first signal on, when a Health service is around.
    const health = yield* Effect.serviceOption(Health.Health)
    if (Option.isSome(health)) {
      yield* health.value.register({
        name: "shutdown",
        kinds: ["readiness"],
        run: Effect.map(SubscriptionRef.get(phase), (p) => p === "running" ? "healthy" as const : "unhealthy" as const)
      }).pipe(
        Effect.catch((error) => Effect.logWarning("Shutdown: readiness check not registered", error))
      )
    }
    return impl
  })

/** @internal */
export const layer = (options?: Options): Layer.Layer<Shutdown, InvalidOptionError> =>
  Layer.effect(Shutdown, make(options))

/** @internal */
export const phase: Effect.Effect<Phase, never, Shutdown> = Effect.flatMap(
  Shutdown,
  (s) => SubscriptionRef.get(s.phase)
)

/** @internal */
export const layerServer = <A, E, R>(
  server: Layer.Layer<A, E, R>,
  options?: ServerOptions
): Layer.Layer<A, E, Exclude<R, Scope.Scope> | Shutdown> =>
  Layer.effectContext(Effect.gen(function*() {
    const shutdown = yield* Shutdown
    const serverScope = yield* Scope.fork(yield* Effect.scope, "sequential")
    const context = yield* Scope.provide(Layer.build(server), serverScope)
    const inFlight = options?.inFlight
    yield* shutdown.register(
      options?.name ?? "http",
      Effect.andThen(
        Scope.close(serverScope, Exit.void),
        inFlight === undefined ? Effect.void : Effect.orDie(inFlight.drain(Duration.infinity))
      )
    )
    return context
  }))

/** @internal */
export const middleware: Effect.Effect<Middleware, never, Shutdown> = Effect.map(
  Shutdown,
  (shutdown): Middleware => (app) =>
    Effect.map(app, (response) =>
      SubscriptionRef.getUnsafe(shutdown.phase) === "running"
        ? response
        : HttpServerResponse.setHeader(response, "connection", "close")) as any
)
