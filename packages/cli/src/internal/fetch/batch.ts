/**
 * `async-ops fetch`: the records of a batch, written in input order as inputs finish.
 *
 * @internal
 */
import * as Gather from "@async-ops/core/Gather"
import * as HttpResilience from "@async-ops/http/HttpResilience"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as Stream from "effect/Stream"
import * as Meter from "../meter.ts"
import { UsageError } from "../usage.ts"
import { type Method } from "./options.ts"
import { encodeRecord, recordOf } from "./record.ts"
import { type UrlEntry } from "./urlList.ts"

/**
 * One finished input as the run keeps it until it is written: its index in the batch, the encoded record and
 * whether it succeeded. The response (and its body) is dropped as soon as the record is encoded, and the record
 * goes to a buffer of the run's own, not through `Gather.asCompleted`'s outcome (whose value is `void`): whatever
 * the gather keeps per input, it is never a body or a record.
 *
 * @internal
 */
export interface Finished {
  readonly index: number
  readonly text: string
  readonly ok: boolean
  /** The outcome's kind (`200 ok`, `RequestTimeoutError`...) and the call's wall time, for `--report`. */
  readonly label: string
  readonly ms: number | undefined
}

/** @internal */
export interface BatchOptions {
  readonly concurrency: number
  readonly maxRedirects: number
  readonly method: Method
  readonly headers: Record<string, string>
}

/**
 * Counters of a batch while it runs: calls started and not yet recorded (`inFlight`). After a hard stop, the
 * calls still in flight are the ones cut off at the grace deadline.
 *
 * @internal
 */
export interface BatchCounters {
  inFlight: number
}

/**
 * The records of `todo` in completion order, each computed from its response as soon as it ends. Calls that do
 * not start (a stop was requested) end as interruptions and give no record.
 *
 * @internal
 */
export const records = (
  todo: ReadonlyArray<UrlEntry>,
  client: HttpResilience.ResilientClient,
  meters: Meter.Meters,
  options: BatchOptions,
  counters: BatchCounters
): Stream.Stream<Finished, UsageError> => {
  const init = Object.keys(options.headers).length > 0 ? { headers: options.headers } : {}
  // finished records not yet handed to the consumer: one per successful item, taken in order below
  const ready: Array<Finished> = []
  const item = (entry: UrlEntry, index: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      // the request is made when its turn comes and dropped with its response: nothing per input outlives it
      const request = HttpClientRequest.make(options.method)(entry.url, init)
      const finished = (result: Parameters<typeof recordOf>[1]): Effect.Effect<void> =>
        Effect.sync(() => {
          const meter = meters.get(request)
          const record = recordOf(entry, result, meter, options.maxRedirects)
          ready.push({
            index,
            text: encodeRecord(record),
            ok: record.ok,
            label: record.ok ? `${record.status} ok` : record.error ?? `status ${record.status}`,
            ms: meter?.ms
          })
        })
      counters.inFlight++
      return client.execute(request).pipe(
        Effect.matchCauseEffect({
          onSuccess: (response) => finished({ _tag: "Success", response }),
          onFailure: (cause): Effect.Effect<void> => {
            const error = Cause.findErrorOption(cause)
            if (error._tag === "Some") return finished({ _tag: "Failure", error: error.value })
            const die = cause.reasons.find(Cause.isDieReason)
            if (die !== undefined) return finished({ _tag: "Defect", defect: die.defect })
            return Effect.failCause(cause as Cause.Cause<never>)
          }
        }),
        Effect.onExit((exit) =>
          Effect.sync(() => {
            // a call interrupted after it started (the grace deadline) stays counted: it was cut off
            if (Exit.isSuccess(exit) || meters.get(request) === undefined) counters.inFlight--
          })
        )
      )
    })
  return Gather.asCompleted(todo, item, { concurrency: options.concurrency }).pipe(
    Stream.mapError((e) => new UsageError({ reason: e.message })),
    Stream.filter((outcome) => outcome._tag === "Success"),
    Stream.map(() => ready.shift()!)
  )
}
