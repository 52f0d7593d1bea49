/** @internal */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as InvalidOption from "../InvalidOption.ts"
import type { InvalidOptionError } from "../InvalidOption.ts"
import type { CancellableTaskGroup, Options, SpawnOptions, Stats, Task, TaskGroup, TaskInfo } from "../TaskGroup.ts"
import { TaskGroupAbortingError, TaskGroupClosedError } from "../TaskGroup.ts"
import * as Instruments from "./metrics.ts"
import * as Registry from "./registry.ts"

/**
 * `Exit.isExit`, with a cheap look at `_tag` first: most effects are not exits, and `Exit.isExit` (a dual
 * `hasProperty`) showed up at 3% of a 100,000-item batch's profile.
 */
const isExitFast = (effect: Effect.Effect<unknown, unknown, unknown>): effect is Exit.Exit<unknown, unknown> => {
  const tag = (effect as { readonly _tag?: unknown })._tag
  return (tag === "Success" || tag === "Failure") && Exit.isExit(effect)
}

/**
 * A task and its handle in one object. Until it starts it holds what to run and the spawner's services; from then
 * on its fiber (none for a task whose effect was already an `Exit`), then only its exit. Its name is made when read.
 */
class TaskImpl<A, E> implements Task<A, E> {
  readonly id: number
  readonly group: GroupImpl
  private readonly givenName: string | undefined
  /** What to run and with which services, until the task starts. */
  effect: Effect.Effect<A, E, any> | undefined
  context: Context.Context<never> | undefined
  fiber: Fiber.Fiber<A, E> | undefined = undefined
  /** When it started running (the group's clock, epoch ms), for the `tasks` snapshot. */
  startedAt = 0
  exit: Exit.Exit<A, E> | undefined = undefined
  /** The group's list it is in: waiting for a `concurrency` slot, or live (admitted and not ended); and its place. */
  list: TaskList | undefined = undefined
  prev: TaskImpl<any, any> | undefined = undefined
  next: TaskImpl<any, any> | undefined = undefined
  private observers: Array<(exit: Exit.Exit<A, E>) => void> | undefined = undefined

  constructor(
    group: GroupImpl,
    id: number,
    name: string | undefined,
    effect: Effect.Effect<A, E, any>,
    context: Context.Context<never>
  ) {
    this.group = group
    this.id = id
    this.givenName = name
    this.effect = effect
    this.context = context
  }

  get name(): string {
    return this.givenName ?? `task-${this.id}`
  }

  complete(exit: Exit.Exit<A, E>): void {
    if (this.exit !== undefined) return
    this.exit = exit
    this.effect = undefined
    this.context = undefined
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
        // Waiting for a slot, or admitted and not started yet: it never starts.
        this.group.dropUnstarted(this, caller.id)
        return Effect.void
      }
      this.fiber.interruptUnsafe(caller.id)
      return Effect.asVoid(this.await)
    })
  }
}

/**
 * A FIFO of tasks threaded through the tasks themselves (a task is in at most one list at a time): O(1) push, shift
 * and removal of any task, and no node object or hash table per task. The waiting list's contract is
 * internal/waitList.ts's, without its node allocation.
 */
class TaskList {
  private head: TaskImpl<any, any> | undefined = undefined
  private tail: TaskImpl<any, any> | undefined = undefined
  length = 0

  push(task: TaskImpl<any, any>): void {
    task.list = this
    task.prev = this.tail
    task.next = undefined
    if (this.tail === undefined) this.head = task
    else this.tail.next = task
    this.tail = task
    this.length++
  }

  shift(): TaskImpl<any, any> | undefined {
    const task = this.head
    if (task !== undefined) this.remove(task)
    return task
  }

  /** Removes a task wherever it is; a task not in this list is ignored. */
  remove(task: TaskImpl<any, any>): void {
    if (task.list !== this) return
    const prev = task.prev
    const next = task.next
    if (prev === undefined) this.head = next
    else prev.next = next
    if (next === undefined) this.tail = prev
    else next.prev = prev
    task.list = undefined
    task.prev = undefined
    task.next = undefined
    this.length--
  }

  /** The tasks in order (a copy: the list may change while the caller goes through it). */
  toArray(): Array<TaskImpl<any, any>> {
    const out: Array<TaskImpl<any, any>> = []
    for (let task = this.head; task !== undefined; task = task.next) out.push(task)
    return out
  }

  /** Empties the list and returns its tasks in order. */
  drain(): Array<TaskImpl<any, any>> {
    const out = this.toArray()
    for (const task of out) {
      task.list = undefined
      task.prev = undefined
      task.next = undefined
    }
    this.head = undefined
    this.tail = undefined
    this.length = 0
    return out
  }
}

class GroupImpl implements CancellableTaskGroup {
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
  /** Spawns waiting for a `concurrency` slot, FIFO. */
  readonly waiting = new TaskList()
  /**
   * Tasks whose fiber has started and not ended, in start order: to interrupt on cancel, and for `tasks`. A task
   * that ends during its first run (the common case for short tasks) never enters it.
   */
  readonly live = new TaskList()
  /** Tasks admitted since the last flush, started together by the next one, in spawn order. */
  private starting: Array<TaskImpl<any, any>> = []
  private flushScheduled = false
  /** The batch the running flush goes through, and the task it is starting now (whose fiber is not known yet). */
  private flushing: Array<TaskImpl<any, any>> | undefined = undefined
  private startingNow: TaskImpl<any, any> | undefined = undefined
  /** An interruption asked for the task starting now, delivered to its fiber once the fiber is known. */
  private startingNowInterrupt: number | undefined = undefined
  /** Every failure (not interruption) of a task or the body, in the order they happened. */
  readonly failures: Array<Cause.Cause<unknown>> = []
  /** The errors this group's `spawn` failed with while aborting: a consequence of the abort, not a failure. */
  private readonly abortErrors = new WeakSet<object>()
  bodyExit: Exit.Exit<unknown, unknown> | undefined = undefined
  bodyFiber: Fiber.Fiber<unknown, unknown> | undefined = undefined
  /** Set when something asks the coordinator to cancel: a failure in fail-fast mode, or the body failed or ended. */
  cancelRequested = false
  /** Set by `cancel`: the group ends successfully unless something failed. */
  cancelled = false
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

  /** Whether a failure, a cancel or an interruption is stopping the group: spawns fail from then on. */
  get aborting(): boolean {
    return this.state === "cancelling" || this.cancelRequested
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
      for (const task of this.live.toArray()) task.startedAt = now
      for (const task of this.unstarted()) task.startedAt = now
    }
    return Effect.succeed(
      [...this.live.toArray(), ...this.unstarted()].map((task): TaskInfo => ({
        id: task.id,
        name: task.name,
        startedAt: task.startedAt
      }))
    )
  })

  readonly cancel: Effect.Effect<void> = Effect.withFiber((caller) => {
    if (this.state === "open") {
      this.cancelled = true
      this.abort(caller.id)
      this.notify()
    }
    return Effect.void
  })

  spawn = <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    options?: SpawnOptions
  ): Effect.Effect<Task<A, E>, E | TaskGroupAbortingError, R> =>
    Effect.withFiber((spawner) => {
      if (this.state === "closed") return Effect.die(new TaskGroupClosedError({ group: this.name }))
      if (this.aborting) {
        const error = new TaskGroupAbortingError({ group: this.name })
        this.abortErrors.add(error)
        return Effect.fail(error)
      }
      const task = new TaskImpl<A, E>(this, this.nextId++, options?.name, effect, spawner.context)
      if (this.running < this.limit && this.waiting.length === 0) {
        this.admit(task)
      } else {
        this.waiting.push(task)
        if (this.metrics !== undefined) this.metrics.setWaiting(this.waiting.length)
      }
      return Effect.succeed(task)
    })

  /**
   * Takes a slot for the task and queues it for the next flush. Every task admitted in one turn starts from one
   * scheduled flush (one scheduler hop per turn, not per task), on a later turn than its spawn and in spawn order,
   * as asyncio's create_task and trio's start_soon do.
   */
  private admit(task: TaskImpl<any, any>): void {
    this.running++
    if (this.running > this.peakRunning) this.peakRunning = this.running
    if (this.metrics !== undefined) this.reportStart(this.metrics)
    this.starting.push(task)
    if (!this.flushScheduled) {
      this.flushScheduled = true
      this.coordinator!.currentDispatcher.scheduleTask(this.flush, 0)
    }
  }

  /**
   * Starts every task admitted since the last flush, one after another in this one scheduler task: each runs in a
   * root fiber with its spawner's services until it suspends or ends. A task whose effect is already an `Exit`
   * ends without a fiber. Tasks dropped in the meantime (cancel, `interrupt`) have ended and are skipped.
   */
  private readonly flush = (): void => {
    this.flushScheduled = false
    const batch = this.starting
    this.starting = []
    this.flushing = batch
    // Tasks spawned by one fiber share its services: one runner for a run of them.
    let runContext: Context.Context<never> | undefined
    let runFork: ((effect: Effect.Effect<unknown, unknown>) => Fiber.Fiber<unknown, unknown>) | undefined
    for (let i = 0; i < batch.length; i++) {
      const task = batch[i]!
      if (task.exit !== undefined) continue
      const effect = task.effect as Effect.Effect<unknown, unknown>
      const context = task.context!
      task.effect = undefined
      task.context = undefined
      if (this.clock !== undefined) task.startedAt = this.clock.currentTimeMillisUnsafe()
      if (isExitFast(effect)) {
        this.onTaskExit(task, effect)
        continue
      }
      if (context !== runContext) {
        runContext = context
        runFork = Effect.runForkWith(context)
      }
      this.startingNow = task
      const fiber = runFork!(effect)
      this.startingNow = undefined
      const exit = fiber.pollUnsafe()
      if (exit !== undefined) {
        this.startingNowInterrupt = undefined
        this.onTaskExit(task, exit)
      } else {
        task.fiber = fiber
        this.live.push(task)
        fiber.addObserver((exit) => this.onTaskExit(task, exit))
        if (this.startingNowInterrupt !== undefined) {
          const by = this.startingNowInterrupt
          this.startingNowInterrupt = undefined
          fiber.interruptUnsafe(by)
        }
      }
    }
    this.flushing = undefined
  }

  /** Tasks admitted and not started yet (none has a fiber), in spawn order: the running flush's rest, then the next. */
  private unstarted(): Array<TaskImpl<any, any>> {
    const out: Array<TaskImpl<any, any>> = []
    for (const batch of [this.flushing, this.starting]) {
      if (batch === undefined) continue
      for (const task of batch) {
        if (task.exit === undefined && task.fiber === undefined && task !== this.startingNow) out.push(task)
      }
    }
    return out
  }

  private reportStart(metrics: Instruments.Instruments): void {
    metrics.setInFlight(this.running)
    metrics.addAcquired()
  }

  /**
   * A cause without what the group itself caused: the interruptions of its abort and the errors of spawns refused
   * while aborting. Empty when that is all there was.
   */
  private ownFailures(cause: Cause.Cause<unknown>): Cause.Cause<unknown> {
    return Cause.fromReasons(
      cause.reasons.filter((r) =>
        !Cause.isInterruptReason(r) &&
        !(Cause.isFailReason(r) && typeof r.error === "object" && r.error !== null && this.abortErrors.has(r.error))
      )
    )
  }

  private onTaskExit(task: TaskImpl<any, any>, exit: Exit.Exit<any, any>): void {
    this.running--
    if (this.metrics !== undefined) this.metrics.setInFlight(this.running)
    this.live.remove(task)
    if (Exit.isSuccess(exit)) {
      this.succeeded++
    } else {
      const failure = Cause.hasInterruptsOnly(exit.cause) ? undefined : this.ownFailures(exit.cause)
      if (failure === undefined || failure.reasons.length === 0) {
        this.interrupted++
      } else {
        this.failed++
        this.failures.push(failure)
        if (!this.supervise) this.cancelRequested = true
      }
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
      this.admit(next)
    }
    if (this.metrics !== undefined) this.metrics.setWaiting(this.waiting.length)
  }

  /** Ends a task that has not started (waiting for a slot, or admitted and not flushed yet) as interrupted. */
  dropUnstarted(task: TaskImpl<any, any>, by: number): void {
    if (task.exit !== undefined || task.fiber !== undefined) return
    if (task === this.startingNow) {
      // It is running its first steps (and asked this itself): its fiber is interrupted once it is known.
      this.startingNowInterrupt = by
      return
    }
    if (task.list === this.waiting) {
      this.waiting.remove(task)
      if (this.metrics !== undefined) this.metrics.setWaiting(this.waiting.length)
      this.interrupted++
      task.complete(Exit.interrupt(by))
      this.notify()
    } else {
      this.onTaskExit(task, Exit.interrupt(by))
    }
  }

  onBodyExit(exit: Exit.Exit<unknown, unknown>): void {
    this.bodyExit = exit
    if (Exit.isFailure(exit)) {
      const failure = Cause.hasInterruptsOnly(exit.cause) ? undefined : this.ownFailures(exit.cause)
      if (failure === undefined || failure.reasons.length === 0) {
        // Interrupted by the group while cancelling, or by itself: either way the tasks must stop.
        if (this.state === "open") this.cancelRequested = true
      } else {
        this.failures.push(failure)
        this.cancelRequested = true
      }
    }
    this.notify()
  }

  /** Interrupts the body and every task, and drops every spawn that has not started. */
  abort(by: number): void {
    if (this.state !== "open") return
    this.state = "cancelling"
    for (const task of this.waiting.drain()) {
      this.interrupted++
      task.complete(Exit.interrupt(by))
    }
    if (this.metrics !== undefined) this.metrics.setWaiting(0)
    if (this.bodyExit === undefined) this.bodyFiber?.interruptUnsafe(by)
    for (const task of this.unstarted()) this.onTaskExit(task, Exit.interrupt(by))
    if (this.startingNow !== undefined) this.startingNowInterrupt = by
    for (const task of this.live.toArray()) task.fiber!.interruptUnsafe(by)
  }
}

/** @internal */
export const isTaskGroup = (u: unknown): u is TaskGroup => u instanceof GroupImpl

const run = <A, E, R>(
  module: string,
  body: (group: GroupImpl) => Effect.Effect<A, E, R>,
  options: Options | undefined
): Effect.Effect<{ readonly group: GroupImpl; readonly exit: Exit.Exit<A, E> }, E | InvalidOptionError, R> =>
  Effect.flatMap(
    Effect.fromResult(InvalidOption.concurrency(module, options?.concurrency)),
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
          Registry.trackUnsafe("TaskGroup", options, coordinator.context, group)
          return Effect.gen(function*() {
            const bodyFiber = yield* Effect.forkChild(Effect.suspend(() => body(group)))
            group.bodyFiber = bodyFiber
            bodyFiber.addObserver((exit) => group.onBodyExit(exit))
            // Wait, interruptibly, until everything ended or a cancel is asked for.
            const waited = yield* Effect.exit(restore(group.signal))
            if (Exit.isFailure(waited) || !group.allEnded) {
              group.abort(group.coordinatorId)
              yield* group.signal
            }
            group.state = "closed"
            if (Exit.isFailure(waited)) return yield* Effect.failCause(waited.cause)
            if (group.failures.length > 0) {
              return yield* Effect.failCause(
                Cause.fromReasons(group.failures.flatMap((c) => c.reasons)) as Cause.Cause<E>
              )
            }
            return { group, exit: group.bodyExit as Exit.Exit<A, E> }
          })
        })
      )
  )

/** @internal */
export const scoped = <A, E, R>(
  body: (group: TaskGroup) => Effect.Effect<A, E, R>,
  options?: Options
): Effect.Effect<A, E | InvalidOptionError, R> =>
  Effect.flatMap(run("TaskGroup.scoped", body, options), ({ exit }) => exit)

/** @internal */
export const cancellable = <A, E, R>(
  body: (group: CancellableTaskGroup) => Effect.Effect<A, E, R>,
  options?: Options
): Effect.Effect<Option.Option<A>, E | InvalidOptionError, R> =>
  Effect.flatMap(
    run("TaskGroup.cancellable", body, options),
    ({ exit, group }): Effect.Effect<Option.Option<A>, E> =>
      Exit.isSuccess(exit)
        ? Effect.succeed(Option.some(exit.value))
        : group.cancelled
        // The cancel interrupted the body (its own aborting errors are left out, as for the tasks).
        ? Effect.succeed(Option.none())
        : Effect.failCause(exit.cause)
  )
