/**
 * `async-ops fetch`: the run (FetchAll over the metered resilient client, one JSON Lines record per input, graceful
 * stop on SIGINT/SIGTERM). Its parts live in `./fetch/`: the URL list (`urlList.ts`), the flags (`options.ts`),
 * records (`record.ts`), output and resume (`output.ts`), OS error reasons (`osError.ts`), a batch's records
 * (`batch.ts`); they are re-exported here for `Fetch.ts` and the tests.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Stdio from "effect/Stdio"
import * as Stream from "effect/Stream"
import { type BatchCounters, records } from "./fetch/batch.ts"
import { type FetchOptions, fromResult, resolveOptions } from "./fetch/options.ts"
import { openOutput, OutputClosedError, stdoutWriter } from "./fetch/output.ts"
import { parseUrlList, readInput } from "./fetch/urlList.ts"
import * as Meter from "./meter.ts"
import * as Progress from "./progress.ts"
import * as Report from "./report.ts"
import { exitCodeOf, gracefulStop, type StopSignal } from "./signals.ts"
import { UsageError } from "./usage.ts"

export * from "./fetch/batch.ts"
export * from "./fetch/options.ts"
export { osReason } from "./fetch/osError.ts"
export * from "./fetch/output.ts"
export * from "./fetch/record.ts"
export * from "./fetch/urlList.ts"

// ---------------------------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------------------------

/** @internal */
export interface FetchSummary {
  readonly inputs: number
  readonly skipped: number
  readonly written: number
  /** Requests still in flight at the grace deadline: their outcome is unknown and `--resume` fetches them again. */
  readonly cutOff: number
  readonly stoppedBy: StopSignal | undefined
  readonly exitCode: number
}

/** @internal */
export const run = (
  options: FetchOptions
): Effect.Effect<FetchSummary, UsageError | OutputClosedError, FileSystem.FileSystem | Stdio.Stdio> =>
  Effect.scoped(Effect.gen(function*() {
    const resolved = yield* resolveOptions(options)
    const entries = yield* readInput(options.input).pipe(
      Effect.flatMap((bytes) => fromResult(parseUrlList(bytes))),
      Effect.mapError((e) =>
        e._tag === "UsageError"
          ? e
          : new UsageError({ reason: `${options.input === "-" ? "stdin" : options.input}: ${e.message}` })
      )
    )
    const { done, writer } = options.out === undefined
      ? { done: new Set<number>(), writer: stdoutWriter }
      : yield* openOutput(options.out, options.resume, entries)
    const todo = done.size === 0 ? entries : entries.filter((e) => !done.has(e.line))

    const { client, control, counters, meters, recorder } = yield* Meter.meteredClient(
      options.report === undefined ? undefined : {
        command:
          `async-ops fetch: ${todo.length} URLs, concurrency ${resolved.concurrency}, ${resolved.perHost} per host`,
        perHostCap: resolved.perHost,
        totalCap: Number.POSITIVE_INFINITY,
        openDurationMs: undefined
      },
      {
        maxConnections: Number.POSITIVE_INFINITY,
        maxConnectionsPerHost: resolved.perHost,
        requestTimeout: resolved.timeout,
        headersTimeout: resolved.timeout,
        poolWaitTimeout: Number.POSITIVE_INFINITY,
        maxResponseBytes: resolved.maxBytes,
        retry: { maxAttempts: resolved.retries + 1, maxDelay: "10 seconds" },
        ...(resolved.rate !== undefined ? { rateLimit: { limit: resolved.rate, window: "1 second" } } : {})
      },
      { maxRedirects: resolved.maxRedirects }
    )
    const wrapped = Meter.metered(client, meters, control, counters, undefined)

    // stop: the first signal stops new calls; after the grace period the calls still running are cut off
    const stop = yield* gracefulStop(resolved.grace, () => {
      control.stopping = true
    })

    // progress on a terminal only
    const batch: BatchCounters = { inFlight: 0 }
    const startedAt = yield* Clock.currentTimeMillis
    let written = 0
    let failed = 0
    const stdio = yield* Stdio.Stdio
    const tty = !options.quiet && (yield* stdio.stderrIsTerminal)
    yield* Progress.show(
      Effect.map(Clock.currentTimeMillis, (now) => ({
        total: todo.length,
        done: written,
        failed,
        inFlight: batch.inFlight,
        retrying: counters.retrying,
        elapsedMs: now - startedAt
      })),
      { tty, plain: false }
    )

    // ordered output keeps finished records until every earlier input has one
    const pending = new Map<number, string>()
    let nextIndex = 0
    yield* records(todo, wrapped, meters, resolved, batch).pipe(
      Stream.interruptWhen(Deferred.await(stop.hardStop)),
      Stream.runForEachArray((chunk) => {
        let text = ""
        for (const finished of chunk) {
          written++
          if (!finished.ok) failed++
          recorder?.outcomeNow(finished.label, finished.ms)
          if (!options.ordered) text += finished.text
          else pending.set(finished.index, finished.text)
        }
        if (options.ordered) {
          while (nextIndex < todo.length) {
            const line = pending.get(nextIndex)
            if (line === undefined) break
            pending.delete(nextIndex)
            text += line
            nextIndex++
          }
        }
        return text === "" ? Effect.void : writer.write(text)
      })
    )
    // a stopped ordered run: records after a gap are still written (resume needs them, order is lost at the end)
    if (pending.size > 0) {
      yield* writer.write(Array.from(pending.entries()).toSorted((a, b) => a[0] - b[0]).map(([, l]) => l).join(""))
    }
    if (recorder !== undefined && options.report !== undefined) yield* Report.write(recorder, options.report)
    const stoppedBy = stop.stoppedBy()
    return {
      inputs: entries.length,
      skipped: entries.length - todo.length,
      written,
      cutOff: batch.inFlight,
      stoppedBy,
      exitCode: stoppedBy === undefined ? 0 : exitCodeOf(stoppedBy)
    }
  }))
