/**
 * Supervisor: named long-running tasks on a FiberMap, one-for-one restarts on a Schedule with a cap in a window.
 *
 * @internal
 */
import * as Election from "@async-ops/core/Election"
import * as InvalidOption from "@async-ops/core/InvalidOption"
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberMap from "effect/FiberMap"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { Check, Status } from "../Health.ts"
import { failedCounter, restartsCounter, runningGauge } from "../Supervisor.ts"
import type {
  HealthCheckOptions,
  MaxRestarts,
  Options,
  StartOptions,
  Stats,
  StopOptions,
  Supervisor as SupervisorShape,
  TaskInfo
} from "../Supervisor.ts"
import { describeCause, durationOption, isNonEmptyString } from "./health.ts"
import { registerIfPresent } from "./introspection.ts"

/** @internal */
export type TaskState = "starting" | "running" | "restarting" | "stopped" | "failed" | "completed"

/** @internal */
export class DuplicateTaskError extends Data.TaggedError("DuplicateTaskError")<{
  readonly supervisor: string
  readonly name: string
}> {
  override get message(): string {
    return `${this.supervisor}: a task named ${JSON.stringify(this.name)} is already running`
  }
}

/** @internal */
export class TaskNotFoundError extends Data.TaggedError("TaskNotFoundError")<{
  readonly supervisor: string
  readonly name: string
}> {
  override get message(): string {
    return `${this.supervisor}: no task named ${JSON.stringify(this.name)}`
  }
}

/** @internal */
export class StopTimeoutError extends Data.TaggedError("StopTimeoutError")<{
  readonly supervisor: string
  readonly name: string
  readonly timeout: Duration.Duration
}> {
  override get message(): string {
    return `${this.supervisor}: task ${JSON.stringify(this.name)} did not stop within ${
      Duration.format(this.timeout)
    } (it was interrupted and is still finishing)`
  }
}

/** @internal */
export class SupervisorClosedError extends Data.TaggedError("SupervisorClosedError")<{
  readonly supervisor: string
  readonly name: string
}> {
  override get message(): string {
    return `${this.supervisor}: closed, cannot start ${JSON.stringify(this.name)}`
  }
}

/** @internal */
export type Supervisor = SupervisorShape
/** @internal */
export const Supervisor: Context.Service<Supervisor, Supervisor> = Context.Service<Supervisor>(
  "@async-ops/service/Supervisor"
)

interface Policy {
  readonly restart: Schedule.Schedule<unknown, unknown> | false
  readonly count: number
  readonly withinMs: number
}

class TaskRecord {
  state: TaskState = "starting"
  restarts = 0
  lastError: string | undefined = undefined
  startedAt: number
  endedAt: number | undefined = undefined
  fiber: Fiber.Fiber<void> | undefined = undefined
  readonly restartTimes: Array<number> = []
  readonly name: string
  readonly createdAt: number
  constructor(name: string, createdAt: number) {
    this.name = name
    this.createdAt = createdAt
    this.startedAt = createdAt
  }
  get live(): boolean {
    return this.state === "starting" || this.state === "running" || this.state === "restarting"
  }
  info(): TaskInfo {
    const base = {
      name: this.name,
      state: this.state,
      restarts: this.restarts,
      startedAt: this.startedAt,
      createdAt: this.createdAt
    }
    return {
      ...base,
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
      ...(this.endedAt === undefined ? {} : { endedAt: this.endedAt })
    }
  }
}

const DEFAULT_RESTART: Schedule.Schedule<unknown, unknown> = Schedule.exponential("1 second")
const DEFAULT_MAX_RESTARTS: MaxRestarts = { count: 5, within: "1 minute" }

const resolvePolicy = (
  module: string,
  options: StartOptions | undefined,
  fallback: Policy | undefined
): Effect.Effect<Policy, InvalidOptionError> =>
  Effect.gen(function*() {
    const restart = yield* Effect.fromResult(
      InvalidOption.check(
        module,
        "restart",
        options?.restart ?? fallback?.restart ?? DEFAULT_RESTART,
        (u): u is Policy["restart"] => u === false || Schedule.isSchedule(u),
        "a Schedule or false"
      )
    )
    const max = options?.maxRestarts
    if (max === undefined && fallback !== undefined) return { ...fallback, restart }
    const cap = max ?? DEFAULT_MAX_RESTARTS
    const count = yield* Effect.fromResult(InvalidOption.int(module, "maxRestarts.count", cap.count, { min: 0 }))
    const within = yield* durationOption(module, "maxRestarts.within", cap.within, Duration.minutes(1), {
      allowZero: false,
      allowInfinity: true
    })
    return { restart, count, withinMs: Duration.toMillis(within) }
  })

/** The metrics of a supervisor made with `metrics: true`, bound to the constructor's context. */
class Instruments {
  readonly context: Context.Context<never>
  readonly supervisor: string
  readonly running: Metric.Gauge<number>

  constructor(supervisor: string, context: Context.Context<never>) {
    this.context = context
    this.supervisor = supervisor
    this.running = Metric.withAttributes(runningGauge, { primitive: "Supervisor", name: supervisor })
    this.running.updateUnsafe(0, context)
  }
  setRunning(n: number): void {
    this.running.updateUnsafe(n, this.context)
  }
  add(counter: Metric.Counter<number>, task: string): void {
    Metric.withAttributes(counter, { primitive: "Supervisor", name: this.supervisor, task }).updateUnsafe(
      1,
      this.context
    )
  }
}

const isSettled = (state: TaskState) => state === "stopped" || state === "failed" || state === "completed"

/** @internal */
export const make = (options?: Options): Effect.Effect<Supervisor, InvalidOptionError, Scope.Scope> =>
  Effect.gen(function*() {
    const [supervisor, maxEnded] = yield* Effect.fromResult(Result.all([
      InvalidOption.check(
        "Supervisor.make",
        "name",
        options?.name ?? "Supervisor",
        isNonEmptyString,
        "a non-empty string"
      ),
      InvalidOption.int("Supervisor.make", "maxEnded", options?.maxEnded ?? 100, { min: 0, orInfinity: true })
    ]))
    const metrics = options?.metrics === true ? new Instruments(supervisor, yield* Effect.context<never>()) : undefined
    const defaults = yield* resolvePolicy("Supervisor.make", options, undefined)
    const records = new Map<string, TaskRecord>()
    /** Names of ended tasks, oldest first, to forget past `maxEnded`. */
    const ended: Array<TaskRecord> = []
    const fibers = yield* FiberMap.make<string, void>()
    let closed = false
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
      })
    )

    /** Tasks in the `running` state. */
    let running = 0
    const setState = (record: TaskRecord, state: TaskState) => {
      if (record.state === state) return
      if (record.state === "running") running--
      if (state === "running") running++
      record.state = state
      if (metrics !== undefined) {
        metrics.setRunning(running)
        if (state === "failed") metrics.add(failedCounter, record.name)
      }
    }

    const settle = (record: TaskRecord, state: TaskState, at: number) => {
      if (isSettled(record.state)) return
      setState(record, state)
      record.endedAt = at
      ended.push(record)
      while (ended.length > maxEnded) {
        const old = ended.shift()
        if (old !== undefined && records.get(old.name) === old) records.delete(old.name)
      }
    }

    const supervise = <A, E, R>(
      record: TaskRecord,
      effect: Effect.Effect<A, E, R>,
      policy: Policy
    ): Effect.Effect<void, never, R> =>
      Effect.gen(function*() {
        const step = policy.restart === false ? undefined : yield* Schedule.toStep(policy.restart)
        while (true) {
          setState(record, "running")
          record.startedAt = yield* Clock.currentTimeMillis
          const exit = yield* Effect.exit(effect)
          const now = yield* Clock.currentTimeMillis
          if (Exit.isSuccess(exit)) return settle(record, "completed", now)
          if (Cause.hasInterruptsOnly(exit.cause)) return settle(record, "stopped", now)
          record.lastError = describeCause(exit.cause)
          if (step === undefined) return settle(record, "failed", now)
          while (record.restartTimes.length > 0 && (record.restartTimes[0] ?? 0) <= now - policy.withinMs) {
            record.restartTimes.shift()
          }
          if (record.restartTimes.length >= policy.count) return settle(record, "failed", now)
          const error = Cause.squash(exit.cause)
          const next = yield* Effect.exit(step(now, error))
          if (Exit.isFailure(next)) return settle(record, "failed", now)
          setState(record, "restarting")
          yield* Effect.sleep(next.value[1])
          record.restartTimes.push(yield* Clock.currentTimeMillis)
          record.restarts++
          if (metrics !== undefined) metrics.add(restartsCounter, record.name)
        }
      }).pipe(
        Effect.onExit((exit) =>
          Exit.isFailure(exit)
            ? Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => settle(record, "stopped", now)))
            : Effect.void
        )
      )

    const start = <A, E, R>(
      name: string,
      effect: Effect.Effect<A, E, R>,
      startOptions?: StartOptions
    ): Effect.Effect<void, DuplicateTaskError | SupervisorClosedError | InvalidOptionError, R> =>
      Effect.gen(function*() {
        const module = `${supervisor}.start`
        yield* Effect.fromResult(InvalidOption.check(module, "name", name, isNonEmptyString, "a non-empty string"))
        const policy = yield* resolvePolicy(module, startOptions, defaults)
        const singleton = startOptions?.singleton
        yield* Effect.fromResult(
          InvalidOption.check(
            module,
            "singleton",
            singleton,
            (u) => u === undefined || isNonEmptyString(u),
            "a non-empty string (the election key)"
          )
        )
        const task = singleton === undefined ? effect : Election.runSingleton(singleton, effect)
        if (closed) return yield* new SupervisorClosedError({ supervisor, name })
        const existing = records.get(name)
        if (existing !== undefined && existing.live) return yield* new DuplicateTaskError({ supervisor, name })
        if (existing !== undefined) {
          const i = ended.indexOf(existing)
          if (i !== -1) ended.splice(i, 1)
        }
        const record = new TaskRecord(name, yield* Clock.currentTimeMillis)
        records.delete(name)
        records.set(name, record)
        record.fiber = yield* FiberMap.run(fibers, name, supervise(record, task, policy))
      })

    const stop = (
      name: string,
      stopOptions?: StopOptions
    ): Effect.Effect<void, TaskNotFoundError | StopTimeoutError | InvalidOptionError> =>
      Effect.gen(function*() {
        const timeout = yield* durationOption(
          `${supervisor}.stop`,
          "timeout",
          stopOptions?.timeout,
          Duration.seconds(10),
          {
            allowZero: false,
            allowInfinity: true
          }
        )
        const record = records.get(name)
        if (record === undefined) return yield* new TaskNotFoundError({ supervisor, name })
        const fiber = record.fiber
        if (!record.live || fiber === undefined) return
        const stopped = yield* Effect.timeoutOption(Fiber.interrupt(fiber), timeout)
        if (stopped._tag === "None") return yield* new StopTimeoutError({ supervisor, name, timeout })
      })

    const get = (name: string): Effect.Effect<TaskInfo, TaskNotFoundError> =>
      Effect.suspend(() => {
        const record = records.get(name)
        return record === undefined
          ? Effect.fail(new TaskNotFoundError({ supervisor, name }))
          : Effect.succeed(record.info())
      })

    const list = Effect.sync(() => Array.from(records.values(), (r) => r.info()))

    const stats = Effect.sync((): Stats => {
      const counts = { starting: 0, running: 0, restarting: 0, stopped: 0, failed: 0, completed: 0 }
      let restarts = 0
      for (const r of records.values()) {
        counts[r.state]++
        restarts += r.restarts
      }
      return { name: supervisor, tasks: records.size, ...counts, restarts }
    })

    yield* registerIfPresent({
      owner: supervisor,
      kind: "Supervisor",
      tasks: Effect.sync(() =>
        Array.from(records.values()).filter((r) => r.live).map((r) => ({
          name: r.name,
          state: r.state,
          startedAt: r.startedAt
        }))
      )
    })

    return { name: supervisor, start, stop, get, list, stats }
  })

/** @internal */
export const layer = (options?: Options): Layer.Layer<Supervisor, InvalidOptionError> =>
  Layer.effect(Supervisor, make(options))

/** @internal */
export const healthCheck = (supervisor: Supervisor, options?: HealthCheckOptions): Check => ({
  name: options?.name ?? supervisor.name,
  kinds: options?.kinds ?? ["readiness"],
  run: Effect.map(supervisor.stats, (s): Status => s.failed > 0 ? "degraded" : "healthy")
})
