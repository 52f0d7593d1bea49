/** @internal */
import * as InvalidOption from "@async-ops/core/InvalidOption"
import { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Metrics from "@async-ops/core/Metrics"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import { availableParallelism } from "node:os"
import { isAbsolute } from "node:path"
import { pathToFileURL } from "node:url"
import { Worker } from "node:worker_threads"
import type { Functions, Offload, Options, Stats } from "../Offload.ts"
import { OffloadRejectedError, replacedCounter, WorkerCrashedError, WorkerError } from "../Offload.ts"

const MODULE = "Offload.make"

/** The worker entry next to this file, with this file's extension (`.ts` from source, `.js` once built). */
const entry = new URL(`./offloadWorker${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url)

type Failure = WorkerError | WorkerCrashedError | OffloadRejectedError

interface Job {
  readonly id: number
  readonly fn: string
  readonly args: ReadonlyArray<unknown>
  readonly resume: (effect: Effect.Effect<unknown, Failure>) => void
  slot: Slot | undefined
  /** When the call was queued (`Clock` milliseconds), with metrics on; 0 otherwise. */
  readonly queuedAt: number
}

interface Slot {
  readonly worker: Worker
  job: Job | undefined
  /** Terminated by the pool (interrupted call or close): its exit is expected. */
  terminating: boolean
}

interface ErrorInfo {
  readonly name: string
  readonly message: string
  readonly stack: string | undefined
}

/**
 * The metrics a pool made with `metrics: true` updates, synchronously from worker callbacks too: the series are
 * bound once to the constructor's context (its MetricRegistry and Clock). A pool without metrics holds `undefined`.
 */
class Instruments {
  readonly context: Context.Context<never>
  readonly clock: Clock.Clock
  readonly inFlight: Metric.Gauge<number>
  readonly waiting: Metric.Gauge<number>
  readonly acquired: Metric.Counter<number>
  readonly rejected: Metric.Counter<number>
  readonly waitTime: Metric.Histogram<number>
  readonly replaced: Metric.Counter<number>

  constructor(name: string, size: number, context: Context.Context<never>) {
    const attributes = { primitive: "Offload", name }
    this.context = context
    this.clock = Context.get(context, Clock.Clock)
    this.inFlight = Metric.withAttributes(Metrics.inFlight, attributes)
    this.waiting = Metric.withAttributes(Metrics.waiting, attributes)
    this.acquired = Metric.withAttributes(Metrics.acquired, attributes)
    this.rejected = Metric.withAttributes(Metrics.rejected, attributes)
    this.waitTime = Metric.withAttributes(Metrics.waitTime, attributes)
    this.replaced = Metric.withAttributes(replacedCounter, attributes)
    Metric.withAttributes(Metrics.limit, attributes).updateUnsafe(size, context)
    this.gauges(0, 0)
  }

  now(): number {
    return this.clock.currentTimeMillisUnsafe()
  }
  gauges(busy: number, queued: number): void {
    this.inFlight.updateUnsafe(busy, this.context)
    this.waiting.updateUnsafe(queued, this.context)
  }
  addAcquired(queuedAt: number): void {
    this.acquired.updateUnsafe(1, this.context)
    this.waitTime.updateUnsafe(this.now() - queuedAt, this.context)
  }
  addRejected(): void {
    this.rejected.updateUnsafe(1, this.context)
  }
  addReplaced(): void {
    this.replaced.updateUnsafe(1, this.context)
  }
}

class OffloadPool {
  readonly name: string
  readonly size: number
  readonly maxQueued: number
  readonly moduleUrl: string
  readonly metrics: Instruments | undefined
  readonly slots = new Set<Slot>()
  readonly queue: Array<Job> = []
  readonly terminations = new Set<Promise<unknown>>()
  nextId = 0
  completed = 0
  failed = 0
  rejected = 0
  replaced = 0
  /** Threads started and not yet exited. */
  alive = 0
  closed = false

  constructor(
    name: string,
    size: number,
    maxQueued: number,
    moduleUrl: string,
    metrics: Instruments | undefined
  ) {
    this.name = name
    this.size = size
    this.maxQueued = maxQueued
    this.moduleUrl = moduleUrl
    this.metrics = metrics
  }

  private spawn(): Slot {
    const worker = new Worker(entry, { workerData: { module: this.moduleUrl } })
    const slot: Slot = { worker, job: undefined, terminating: false }
    this.slots.add(slot)
    this.alive++
    worker.once("exit", () => this.alive--)
    worker.on("message", (message: readonly [number, 0 | 1, unknown]) => {
      const job = slot.job
      if (job === undefined || job.id !== message[0]) return
      slot.job = undefined
      job.slot = undefined
      // dispatch first: resuming may run the caller's fiber at once, and it must see the metrics up to date
      this.dispatch()
      if (message[1] === 0) {
        this.completed++
        job.resume(Effect.succeed(message[2]))
      } else {
        this.failed++
        const info = message[2] as ErrorInfo
        job.resume(Effect.fail(
          new WorkerError({ function: job.fn, errorName: info.name, message: info.message, workerStack: info.stack })
        ))
      }
    })
    const crashed = (reason: string) => {
      if (slot.terminating) return
      slot.terminating = true
      this.slots.delete(slot)
      this.replaced++
      if (this.metrics !== undefined) this.metrics.addReplaced()
      this.track(slot.worker.terminate())
      const job = slot.job
      slot.job = undefined
      this.dispatch()
      if (job !== undefined) {
        job.slot = undefined
        this.failed++
        job.resume(Effect.fail(new WorkerCrashedError({ name: this.name, function: job.fn, reason })))
      }
    }
    worker.on("error", (error) => crashed(error.message))
    worker.on("exit", (code) => crashed(`exited with code ${code}`))
    return slot
  }

  private track(termination: Promise<unknown>): void {
    this.terminations.add(termination)
    termination.finally(() => this.terminations.delete(termination))
  }

  /** Hands queued jobs to idle workers, starting workers up to `size`, then updates the gauges. */
  dispatch(): void {
    this.assign()
    if (this.metrics !== undefined) this.metrics.gauges(this.busy(), this.queue.length)
  }

  private assign(): void {
    while (this.queue.length > 0 && !this.closed) {
      let idle: Slot | undefined
      for (const slot of this.slots) {
        if (slot.job === undefined) {
          idle = slot
          break
        }
      }
      if (idle === undefined) {
        if (this.slots.size >= this.size) return
        idle = this.spawn()
      }
      const job = this.queue.shift()!
      try {
        // a worker_threads Worker, not a window: there is no target origin
        // oxlint-disable-next-line unicorn/require-post-message-target-origin
        idle.worker.postMessage([job.id, job.fn, job.args])
      } catch (error) {
        // the arguments cannot be structured-cloned
        this.failed++
        if (this.metrics !== undefined) this.metrics.gauges(this.busy(), this.queue.length)
        const e = error instanceof Error ? error : new Error(String(error))
        job.resume(Effect.fail(
          new WorkerError({ function: job.fn, errorName: e.name, message: e.message, workerStack: e.stack })
        ))
        continue
      }
      idle.job = job
      job.slot = idle
      if (this.metrics !== undefined) this.metrics.addAcquired(job.queuedAt)
    }
  }

  private busy(): number {
    let n = 0
    for (const slot of this.slots) if (slot.job !== undefined) n++
    return n
  }

  private reject(reason: "queue-full" | "closed"): Effect.Effect<never, OffloadRejectedError> {
    this.rejected++
    if (this.metrics !== undefined) this.metrics.addRejected()
    return Effect.fail(new OffloadRejectedError({ name: this.name, reason, maxQueued: this.maxQueued }))
  }

  readonly call = (fn: string, ...args: ReadonlyArray<unknown>): Effect.Effect<unknown, Failure> =>
    Effect.suspend(() => {
      if (this.closed) return this.reject("closed")
      if (this.queue.length >= this.maxQueued && this.busy() + this.queue.length >= this.size) {
        return this.reject("queue-full")
      }
      return Effect.callback<unknown, Failure>((resume) => {
        const queuedAt = this.metrics === undefined ? 0 : this.metrics.now()
        const job: Job = { id: this.nextId++, fn, args, resume, slot: undefined, queuedAt }
        this.queue.push(job)
        this.dispatch()
        return Effect.suspend(() => this.cancel(job))
      })
    })

  /** An interrupted call: leaves the queue, or terminates the worker running it (the pool starts another). */
  private cancel(job: Job): Effect.Effect<void> {
    const index = this.queue.indexOf(job)
    if (index >= 0) {
      this.queue.splice(index, 1)
      if (this.metrics !== undefined) this.metrics.gauges(this.busy(), this.queue.length)
      return Effect.void
    }
    const slot = job.slot
    if (slot === undefined || slot.job !== job) return Effect.void
    slot.job = undefined
    job.slot = undefined
    slot.terminating = true
    this.slots.delete(slot)
    this.replaced++
    if (this.metrics !== undefined) this.metrics.addReplaced()
    const termination = slot.worker.terminate()
    this.track(termination)
    this.dispatch()
    return Effect.promise(() => termination)
  }

  readonly close: Effect.Effect<void> = Effect.suspend(() => {
    this.closed = true
    if (this.metrics !== undefined) this.metrics.gauges(0, 0)
    for (const job of this.queue.splice(0)) {
      this.rejected++
      if (this.metrics !== undefined) this.metrics.addRejected()
      job.resume(
        Effect.fail(new OffloadRejectedError({ name: this.name, reason: "closed", maxQueued: this.maxQueued }))
      )
    }
    for (const slot of this.slots) {
      slot.terminating = true
      const job = slot.job
      slot.job = undefined
      if (job !== undefined) {
        this.failed++
        job.resume(Effect.fail(new WorkerCrashedError({ name: this.name, function: job.fn, reason: "pool closed" })))
      }
      this.track(slot.worker.terminate())
    }
    this.slots.clear()
    const pending = [...this.terminations]
    return pending.length === 0 ? Effect.void : Effect.promise(() => Promise.allSettled(pending))
  })

  readonly stats: Effect.Effect<Stats> = Effect.sync(() => ({
    name: this.name,
    size: this.size,
    threads: this.alive,
    busy: this.busy(),
    queued: this.queue.length,
    completed: this.completed,
    failed: this.failed,
    rejected: this.rejected,
    replaced: this.replaced
  }))
}

const moduleHref = (module: URL | string): string | undefined => {
  if (module instanceof URL) return module.href
  if (typeof module !== "string") return undefined
  if (isAbsolute(module)) return pathToFileURL(module).href
  return URL.canParse(module) ? new URL(module).href : undefined
}

/** @internal */
export const make = <M = Functions>(options: Options): Effect.Effect<Offload<M>, InvalidOptionError, Scope.Scope> =>
  Effect.gen(function*() {
    const href = moduleHref(options.module)
    if (href === undefined) {
      return yield* Effect.fail(
        new InvalidOptionError({
          module: MODULE,
          option: "module",
          expected: "a URL or an absolute path",
          value: options.module
        })
      )
    }
    const size = yield* Effect.fromResult(
      InvalidOption.int(MODULE, "size", options.size ?? Math.max(1, availableParallelism() - 1), { min: 1 })
    )
    const maxQueued = yield* Effect.fromResult(
      InvalidOption.int(MODULE, "maxQueued", options.maxQueued ?? Number.POSITIVE_INFINITY, {
        min: 0,
        orInfinity: true
      })
    )
    const name = options.name ?? "offload"
    const metrics = options.metrics === true ? new Instruments(name, size, yield* Effect.context<never>()) : undefined
    const pool = new OffloadPool(name, size, maxQueued, href, metrics)
    yield* Effect.addFinalizer(() => pool.close)
    return pool as unknown as Offload<M>
  })
