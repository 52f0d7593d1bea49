/** @internal */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import type { InvalidOptionError } from "../InvalidOption.ts"
import type { Options, SpawnOptions, Stats, Task, TaskGroup, TaskInfo } from "../TaskGroup.ts"
import { TaskGroupClosedError } from "../TaskGroup.ts"
import * as Instruments from "./metrics.ts"
import * as validate from "./options.ts"
import type { Node } from "./waitList.ts"
import { WaitList } from "./waitList.ts"

interface Waiting {
  readonly task: TaskImpl<any, any>
  readonly effect: Effect.Effect<any, any, any>
  readonly context: Context.Context<never>
}

class TaskImpl<A, E> implements Task<A, E> {
  readonly id: number
  readonly name: string
  readonly group: GroupImpl
  fiber: Fiber.Fiber<A, E> | undefined = undefined
  /** When it started running (the group's clock, epoch ms), for the `tasks` snapshot. */
  startedAt = 0
  exit: Exit.Exit<A, E> | undefined = undefined
  /** Its place in the group's waiting list while it waits for a `concurrency` slot. */
  waitingNode: Node<Waiting> | undefined = undefined
  private observers: Array<(exit: Exit.Exit<A, E>) => void> | undefined = undefined

  constructor(group: GroupImpl, id: number, name: string) {
    this.group = group
    this.id = id
    this.name = name
  }

  complete(exit: Exit.Exit<A, E>): void {
    if (this.exit !== undefined) return
    this.exit = exit
    const observers = this.observers
    this.observers = undefined
    if (observers !== undefined) { for (const observer of observers) observer(exit) }
  }

  pollUnsafe(): Exit.Exit<A, E> | undefined {
    return this.exit
  }

  get await(): Effect.Effect<Exit.Exit<A, E>> {
    // An ended task answers at once, without a callback (joining many finished handles is the common case).
    return this.exit !== undefined ? Effect.succeed(this.exit) : this.awaitSlow
  }

  private get awaitSlow(): Effect.Effect<Exit.Exit<A, E>> {
    return Effect.callback<Exit.Exit<A, E>>((resume) => {
      if (this.exit !== undefined) return resume(Effect.succeed(this.exit))
      const observer = (exit: Exit.Exit<A, E>) => resume(Effect.succeed(exit))
      ;(this.observers ??= []).push(observer)
      return Effect.sync(() => {
        if (this.observers !== undefined) {
          const i = this.observers.indexOf(observer)
          if (i !== -1) this.observers.splice(i, 1)
        }
      })
    })
  }

  get join(): Effect.Effect<A, E> {
    // An Exit is an Effect: an ended task's join is its exit itself.
    return this.exit !== undefined ? this.exit : Effect.flatMap(this.awaitSlow, (exit) => exit)
  }

  get interrupt(): Effect.Effect<void> {
    return Effect.withFiber((caller) => {
      if (this.exit !== undefined) return Effect.void
      if (this.fiber === undefined) {
        this.group.cancelWaiting(this, caller.id)
        return Effect.void
      }
      this.fiber.interruptUnsafe(caller.id)
      return Effect.asVoid(this.await)
    })
  }
}

const withoutInterrupts = <E>(cause: Cause.Cause<E>): Cause.Cause<E> =>
  Cause.fromReasons(cause.reasons.filter((r) => !Cause.isInterruptReason(r)))

class GroupImpl implements TaskGroup {
  readonly name: string
  readonly limit: number
  readonly supervise: boolean
  state: Stats["state"] = "open"
  running = 0
  peakRunning = 0
  succeeded = 0
  failed = 0
  interrupted = 0
  nextId = 0
  /** Spawns waiting for a `concurrency` slot, FIFO, O(1) per operation (see internal/waitList.ts). */
  readonly waiting = new WaitList<Waiting>()
  /** Tasks that have a fiber and have not ended, to interrupt on cancel. */
  readonly live = new Set<TaskImpl<any, any>>()
  /** Every failure (not interruption) of a task or the body, in the order they happened. */
  readonly failures: Array<Cause.Cause<unknown>> = []
  bodyExit: Exit.Exit<unknown, unknown> | undefined = undefined
  bodyFiber: Fiber.Fiber<unknown, unknown> | undefined = undefined
  /** Set when something asks the coordinator to cancel: a failure in fail-fast mode, or the body interrupted. */
  cancelRequested = false
  coordinator: Fiber.Fiber<unknown, unknown> | undefined = undefined
  private wake: (() => void) | undefined = undefined
  /** In flight = running tasks, waiting = spawns waiting for a slot, acquired = tasks started; when on. */
  readonly metrics: Instruments.Instruments | undefined
  /** The clock of the first reader of `tasks`, read when a task starts from then on. */
  clock: Clock.Clock | undefined = undefined

  constructor(name: string, limit: number, supervise: boolean, metrics: Instruments.Instruments | undefined) {
    this.name = name
    this.limit = limit
    this.supervise = supervise
    this.metrics = metrics
    if (metrics !== undefined) {
      metrics.setInFlight(0)
      metrics.setWaiting(0)
      if (Number.isFinite(limit)) metrics.setLimit(limit)
    }
  }

  get allEnded(): boolean {
    return this.bodyExit !== undefined && this.running === 0 && this.waiting.length === 0
  }

  get coordinatorId(): number {
    return this.coordinator?.id ?? -1
  }

  /**
   * Wakes the coordinator when there is something for it to do. The wake-up goes through the scheduler rather
   * than running inline, so every task already scheduled in this turn runs first: tasks failing in the same turn
   * are all reported, as in asyncio, where everything ready in one loop iteration runs before the group reacts.
   */
  notify(): void {
    if (this.wake !== undefined && (this.allEnded || (this.cancelRequested && this.state === "open"))) {
      const wake = this.wake
      this.wake = undefined
      if (this.coordinator === undefined) wake()
      else this.coordinator.currentDispatcher.scheduleTask(wake, 0)
    }
  }

  /**
   * Resumes the coordinator when everything has ended, or (while the group is open) when a cancel is asked for.
   * Once the group is cancelling, only the first holds.
   */
  readonly signal: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (this.allEnded || (this.cancelRequested && this.state === "open")) return resume(Effect.void)
    this.wake = () => resume(Effect.void)
    return Effect.sync(() => {
      this.wake = undefined
    })
  })

  readonly stats: Effect.Effect<Stats> = Effect.sync(() => ({
    name: this.name,
    state: this.state,
    running: this.running,
    pending: this.waiting.length,
    succeeded: this.succeeded,
    failed: this.failed,
    interrupted: this.interrupted,
    peakRunning: this.peakRunning
  }))

  readonly tasks: Effect.Effect<ReadonlyArray<TaskInfo>> = Effect.withFiber((reader) => {
    if (this.clock === undefined) {
      // Start times are taken only once someone reads `tasks` (groups nobody inspects pay nothing per task);
      // tasks already running get the time of this first read.
      this.clock = reader.getRef(Clock.Clock)
      const now = this.clock.currentTimeMillisUnsafe()
      for (const task of this.live) task.startedAt = now
    }
    return Effect.succeed(
      Array.from(this.live, (task): TaskInfo => ({ id: task.id, name: task.name, startedAt: task.startedAt }))
    )
  })

  spawn = <A, E, R>(effect: Effect.Effect<A, E, R>, options?: SpawnOptions): Effect.Effect<Task<A, E>, E, R> =>
    Effect.withFiber((spawner) => {
      if (this.state === "closed") return Effect.die(new TaskGroupClosedError({ group: this.name }))
      const id = this.nextId++
      const task = new TaskImpl<A, E>(this, id, options?.name ?? `task-${id}`)
      if (this.state === "cancelling") {
        this.interrupted++
        task.complete(Exit.interrupt(spawner.id))
      } else if (this.running < this.limit && this.waiting.length === 0) {
        this.start(task, effect, spawner.context)
      } else {
        task.waitingNode = this.waiting.push({ task, effect, context: spawner.context })
        if (this.metrics !== undefined) this.metrics.setWaiting(this.waiting.length)
      }
      return Effect.succeed(task)
    })

  private start(task: TaskImpl<any, any>, effect: Effect.Effect<any, any, any>, context: Context.Context<never>): void {
    this.running++
    if (this.running > this.peakRunning) this.peakRunning = this.running
    if (this.metrics !== undefined) this.reportStart(this.metrics)
    this.live.add(task)
    if (this.clock !== undefined) task.startedAt = this.clock.currentTimeMillisUnsafe()
    // A root fiber with the spawner's services; the leading yield defers the start to the next scheduler turn
    // (asyncio's create_task and trio's start_soon do not run the task inline) and keeps starts from nesting.
    const fiber = Effect.runForkWith(context)(
      Effect.andThen(Effect.yieldNow, effect as Effect.Effect<unknown, unknown>)
    )
    task.fiber = fiber
    fiber.addObserver((exit) => this.onTaskExit(task, exit))
  }

  private reportStart(metrics: Instruments.Instruments): void {
    metrics.setInFlight(this.running)
    metrics.addAcquired()
  }

  private onTaskExit(task: TaskImpl<any, any>, exit: Exit.Exit<any, any>): void {
    this.running--
    if (this.metrics !== undefined) this.metrics.setInFlight(this.running)
    this.live.delete(task)
    if (Exit.isSuccess(exit)) {
      this.succeeded++
    } else if (Cause.hasInterruptsOnly(exit.cause)) {
      this.interrupted++
    } else {
      this.failed++
      this.failures.push(withoutInterrupts(exit.cause))
      if (!this.supervise) this.cancelRequested = true
    }
    task.complete(exit)
    this.startWaiting()
    this.notify()
  }

  private startWaiting(): void {
    if (this.state !== "open" || (this.cancelRequested && !this.supervise)) return
    if (this.waiting.length === 0) return
    while (this.running < this.limit && this.waiting.length > 0) {
      const next = this.waiting.shift()
      if (next === undefined) break
      next.task.waitingNode = undefined
      this.start(next.task, next.effect, next.context)
    }
    if (this.metrics !== undefined) this.metrics.setWaiting(this.waiting.length)
  }

  cancelWaiting(task: TaskImpl<any, any>, by: number): void {
    if (task.waitingNode === undefined || task.exit !== undefined) return
    this.waiting.remove(task.waitingNode)
    task.waitingNode = undefined
    if (this.metrics !== undefined) this.metrics.setWaiting(this.waiting.length)
    this.interrupted++
    task.complete(Exit.interrupt(by))
    this.notify()
  }

  onBodyExit(exit: Exit.Exit<unknown, unknown>): void {
    this.bodyExit = exit
    if (Exit.isFailure(exit)) {
      if (Cause.hasInterruptsOnly(exit.cause)) {
        // Interrupted by the group while cancelling, or by itself: either way the tasks must stop.
        if (this.state === "open") this.cancelRequested = true
      } else {
        this.failures.push(withoutInterrupts(exit.cause))
        this.cancelRequested = true
      }
    }
    this.notify()
  }

  /** Interrupts the body and every task, and drops every waiting spawn. */
  cancel(): void {
    if (this.state !== "open") return
    this.state = "cancelling"
    for (const waiting of this.waiting.drain()) {
      waiting.task.waitingNode = undefined
      this.interrupted++
      waiting.task.complete(Exit.interrupt(this.coordinatorId))
    }
    if (this.metrics !== undefined) this.metrics.setWaiting(0)
    if (this.bodyExit === undefined) this.bodyFiber?.interruptUnsafe(this.coordinatorId)
    for (const task of Array.from(this.live)) task.fiber?.interruptUnsafe(this.coordinatorId)
  }
}

/** @internal */
export const scoped = <A, E, R>(
  body: (group: TaskGroup) => Effect.Effect<A, E, R>,
  options?: Options
): Effect.Effect<A, E | InvalidOptionError, R> =>
  Effect.flatMap(
    validate.concurrency("TaskGroup.scoped", options?.concurrency),
    (limit) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.withFiber((coordinator) => {
          const group = new GroupImpl(
            options?.name ?? "TaskGroup",
            limit,
            options?.mode === "supervise",
            Instruments.makeUnsafe("TaskGroup", options, coordinator.context)
          )
          group.coordinator = coordinator
          return Effect.gen(function*() {
            const bodyFiber = yield* Effect.forkChild(Effect.suspend(() => body(group)))
            group.bodyFiber = bodyFiber
            bodyFiber.addObserver((exit) => group.onBodyExit(exit))
            // Wait, interruptibly, until everything ended or a cancel is asked for.
            const waited = yield* Effect.exit(restore(group.signal))
            const interrupted = Exit.isFailure(waited)
            if (interrupted || !group.allEnded) {
              group.cancel()
              yield* group.signal
            }
            group.state = "closed"
            if (Exit.isFailure(waited)) return yield* Effect.failCause(waited.cause)
            if (group.failures.length > 0) {
              return yield* Effect.failCause(
                Cause.fromReasons(group.failures.flatMap((c) => c.reasons)) as Cause.Cause<E>
              )
            }
            return yield* (group.bodyExit as Exit.Exit<A, E>)
          })
        })
      )
  )
