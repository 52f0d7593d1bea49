/**
 * Offload: run blocking or CPU-bound functions on a bounded pool of worker threads, so the event loop (every other
 * fiber, every request, every timer) keeps running. It answers Python's `loop.run_in_executor(pool, fn, *args)` /
 * `asyncio.to_thread(fn)` with a `ThreadPoolExecutor` or `ProcessPoolExecutor`, and piscina / workerpool in Node.
 *
 * A worker thread needs code to run: the functions live in a module (a file URL, or a `data:` URL) whose named
 * exports are called by name, arguments and results structured-cloned (`offload.call("fib", 35)`). Calls are
 * interruptible: interrupting a call that a worker is running terminates that thread (`worker.terminate()`: a
 * busy loop cannot be asked to stop) and the pool replaces it. Python's executors cannot do that: a cancelled
 * `run_in_executor` future leaves the thread running.
 *
 * Why not effect's `Worker` / `@effect/platform-node` `NodeWorker`: in 4.1 they are a message channel without a
 * pool or request/response layer (that is `RpcWorker`, with a Schema per function), and closing a worker sends a
 * close message and waits up to 5,000 ms (hard-coded) for the worker to exit before terminating it, so an
 * interrupted CPU-bound call would hold its thread (and the interrupting fiber) for 5 s. This module uses
 * `node:worker_threads` directly and terminates at once.
 *
 * There is no `Offload.blocking(fn)` that runs a blocking call on the main thread: that blocks the loop, which
 * is the problem. Move the call into a worker module (`fs.readFileSync`, `crypto.pbkdf2Sync`, `zlib.*Sync`,
 * a native addon, a CPU loop), or use the async API Node already has.
 *
 * @see https://nodejs.org/api/worker_threads.html
 * @see https://docs.python.org/3/library/asyncio-eventloop.html#asyncio.loop.run_in_executor
 * @since 0.1.0
 */
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import type { MetricsOptions } from "@async-ops/core/Metrics"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/offload.ts"

/**
 * The offloaded function threw (or its promise rejected), or it is not exported by the module, or its arguments
 * or result cannot be structured-cloned. Carries the error's name, message and stack from the worker.
 *
 * @category errors
 * @since 0.1.0
 */
export class WorkerError extends Data.TaggedError("WorkerError")<{
  /** The name of the function that was called. */
  readonly function: string
  /** The thrown error's `name` (e.g. `"RangeError"`, `"DataCloneError"`). */
  readonly errorName: string
  /** The thrown error's message. */
  readonly message: string
  /** The thrown error's stack, as seen in the worker. */
  readonly workerStack: string | undefined
}> {}

/**
 * The worker thread running a call died (an uncaught error outside the call, `process.exit` in the worker, out
 * of memory under `resourceLimits`). The pool replaces it; the call is not retried.
 *
 * @category errors
 * @since 0.1.0
 */
export class WorkerCrashedError extends Data.TaggedError("WorkerCrashedError")<{
  /** The pool's name. */
  readonly name: string
  /** The name of the function that was called. */
  readonly function: string
  /** What happened, e.g. `"exited with code 1"` or the uncaught error's message. */
  readonly reason: string
}> {
  override get message(): string {
    return `Offload ${this.name}: the worker running ${this.function} crashed (${this.reason})`
  }
}

/**
 * A call was turned away: the queue was full (`maxQueued`), or the pool is closed.
 *
 * @category errors
 * @since 0.1.0
 */
export class OffloadRejectedError extends Data.TaggedError("OffloadRejectedError")<{
  readonly name: string
  readonly reason: "queue-full" | "closed"
  readonly maxQueued: number
}> {
  override get message(): string {
    return this.reason === "queue-full"
      ? `Offload ${this.name}: rejected, all workers busy and ${this.maxQueued} calls queued`
      : `Offload ${this.name}: rejected, the pool is closed`
  }
}

/**
 * The functions a task module exports, by name. Pass the module's type to {@link make} to type `call`:
 * `Offload.make<typeof Tasks>(...)` with `import type * as Tasks from "./tasks.ts"`.
 *
 * @category models
 * @since 0.1.0
 */
export type Functions = Record<string, unknown>

/**
 * The names of the exports of `M` that are functions.
 *
 * @category models
 * @since 0.1.0
 */
export type FunctionName<M> = { [K in keyof M]: M[K] extends (...args: never) => unknown ? K : never }[keyof M] & string

/**
 * An offload pool's statistics.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  readonly name: string
  /** The most worker threads (the pool's size). */
  readonly size: number
  /** Worker threads alive now: started (lazily, up to `size`) and not yet exited, terminating ones included. */
  readonly threads: number
  /** Calls running on a worker now. */
  readonly busy: number
  /** Calls waiting for a worker. */
  readonly queued: number
  /** Calls that returned a value. */
  readonly completed: number
  /** Calls that failed with `WorkerError` or `WorkerCrashedError`. */
  readonly failed: number
  /** Calls rejected with `OffloadRejectedError`. */
  readonly rejected: number
  /** Workers terminated because the call they ran was interrupted, or because they crashed. */
  readonly replaced: number
}

/**
 * A pool of worker threads running the functions of one module.
 *
 * @category models
 * @since 0.1.0
 */
export interface Offload<M = Functions> {
  readonly name: string
  /**
   * Calls the module's export `fn` with `args` on a free worker (or waits in FIFO order for one) and returns its
   * result (awaited if it is a promise). Interrupting the call while it runs terminates and replaces its worker.
   */
  readonly call: <K extends FunctionName<M>>(
    fn: K,
    ...args: M[K] extends (...args: infer P) => unknown ? P : never
  ) => Effect.Effect<
    M[K] extends (...args: never) => infer R ? Awaited<R> : never,
    WorkerError | WorkerCrashedError | OffloadRejectedError
  >
  /** The statistics now. */
  readonly stats: Effect.Effect<Stats>
}

/**
 * Counter: workers terminated and replaced, because the call they ran was interrupted or because they crashed
 * (`stats.replaced`). Attributes `primitive` (`"Offload"`) and `name`. Recorded with `metrics: true`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const replacedCounter: Metric.Counter<number> = Metric.counter("async_ops_offload_workers_replaced_total", {
  description: "Offload worker threads terminated and replaced (interrupted call or crash)",
  incremental: true
})

/**
 * Options of {@link make}.
 *
 * With `metrics: true` the pool reports the shared metrics of `@async-ops/core/Metrics` with attributes
 * `{ primitive: "Offload", name }`: `async_ops_in_flight` (busy workers), `async_ops_waiting` (queued calls),
 * `async_ops_limit` (`size`), `async_ops_acquired_total` (calls handed to a worker), `async_ops_rejected_total`
 * and `async_ops_wait_time_ms` (time queued before a worker took the call), plus {@link replacedCounter}.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends MetricsOptions {
  /**
   * The module whose named exports the workers run: a `URL` (`new URL("./tasks.ts", import.meta.url)`, a `data:`
   * URL) or a URL string or an absolute path. Node runs `.ts` modules directly (type stripping).
   */
  readonly module: URL | string
  /** The most worker threads: an integer >= 1. Default: `os.availableParallelism() - 1`, at least 1. */
  readonly size?: number | undefined
  /** The most calls waiting for a worker: an integer >= 0. Default: no limit. */
  readonly maxQueued?: number | undefined
  /** The pool's name, in errors, `stats` and the `name` attribute of its metrics. Default `"offload"`. */
  readonly name?: string | undefined
  /** Report metrics (see above). Default `false`: nothing is recorded, at no cost. */
  readonly metrics?: boolean | undefined
}

/**
 * Makes a pool of worker threads in the current scope. Threads start lazily (on the first calls that need them)
 * and are all terminated when the scope closes.
 *
 * **When to use**: for CPU-bound work (hashing, parsing, compression, image work) and blocking calls with no async
 * API, anything that would otherwise stall the event loop for more than a few milliseconds.
 *
 * **Gotchas**: arguments and results are structured-cloned (no functions, no class instances' methods; transfer
 * large buffers by returning them). Each worker imports the module once: keep its top level light, and do not
 * start the pool from the module itself at import. Starting a thread costs tens of milliseconds; a pool is meant
 * to live as long as the service. Fails with `InvalidOptionError` for a `size` that is not an integer >= 1, a
 * `maxQueued` that is not an integer >= 0, or a `module` that is not a URL or absolute path.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Offload } from "@async-ops/service"
 *
 * // tasks.ts: export const fib = (n: number): number => n < 2 ? n : fib(n - 1) + fib(n - 2)
 * // the type argument names the module's functions (`typeof import("./tasks.ts")` in a real project)
 * type Tasks = { readonly fib: (n: number) => number }
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const pool = yield* Offload.make<Tasks>({ module: new URL("./tasks.ts", import.meta.url), size: 2 })
 *   return yield* Effect.all([pool.call("fib", 30), pool.call("fib", 31)], { concurrency: "unbounded" })
 * }))
 * // => [832040, 1346269]
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: <M = Functions>(options: Options) => Effect.Effect<Offload<M>, InvalidOptionError, Scope.Scope> =
  internal.make
