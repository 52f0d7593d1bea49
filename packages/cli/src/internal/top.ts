/**
 * `async-ops top`: reads a service's `/debug/async-ops` snapshot over HTTP (with a timeout on every read) and shows
 * it once, as JSON, or as a live view in the terminal's alternate screen.
 *
 * @internal
 */
import * as Introspection from "@async-ops/service/Introspection"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import { render, TASK_SORTS } from "./topRender.ts"
import type { TaskSort, View } from "./topRender.ts"
import { UsageError } from "./usage.ts"

/** @internal */
export class UnreachableError extends Data.TaggedError("UnreachableError")<{
  readonly url: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.url} is unreachable: ${this.reason}`
  }
}

/** @internal */
export interface Flags {
  readonly url: string
  readonly once: boolean
  readonly json: boolean
  readonly interval: number
  readonly timeout: number
  readonly width: number | undefined
  readonly sort: string
  readonly filter: string
}

/** The snapshot URL for what the user typed: a base URL gets the snapshot path, a full one is kept. */
export const snapshotUrl = (input: string): URL | undefined => {
  let url: URL
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(input) ? input : `http://${input}`)
  } catch {
    return undefined
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined
  if (!url.pathname.endsWith(Introspection.snapshotPath)) {
    url.pathname = `${url.pathname.replace(/\/+$/, "")}${Introspection.snapshotPath}`
  }
  return url
}

/** A JSON body read with one deadline for the whole exchange. */
const readJson = (
  url: URL,
  timeoutMs: number
): Effect.Effect<unknown, UnreachableError | Introspection.SnapshotError> =>
  Effect.tryPromise({
    try: async (signal) => {
      const response = await fetch(url, {
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
        headers: { accept: "application/json" }
      })
      const text = await response.text()
      return { status: response.status, text }
    },
    catch: (error) => {
      const e = error as { name?: string; cause?: { code?: string; message?: string }; message?: string }
      const reason = e.name === "TimeoutError"
        ? `no answer within ${timeoutMs} ms`
        : e.cause?.code ?? e.cause?.message ?? e.message ?? String(error)
      return new UnreachableError({ url: url.origin, reason })
    }
  }).pipe(
    Effect.flatMap(({ status, text }) => {
      if (status !== 200) {
        return Effect.fail(
          new Introspection.SnapshotError({
            reason: "NotAsyncOps",
            message: `${url.origin} is not an async-ops service: GET ${url.pathname} answered ${status}`
          })
        )
      }
      try {
        return Effect.succeed(JSON.parse(text) as unknown)
      } catch {
        return Effect.fail(
          new Introspection.SnapshotError({
            reason: "NotAsyncOps",
            message: `${url.origin} is not an async-ops service: GET ${url.pathname} did not answer JSON`
          })
        )
      }
    })
  )

/** @internal */
export const fetchSnapshot = (
  url: URL,
  timeoutMs: number
): Effect.Effect<{ readonly raw: unknown; readonly snapshot: Introspection.Snapshot }, TopError> =>
  Effect.flatMap(readJson(url, timeoutMs), (raw) =>
    Effect.map(
      Introspection.decodeSnapshot(raw).pipe(
        Effect.mapError((e) =>
          e.reason === "NotAsyncOps"
            ? new Introspection.SnapshotError({
              reason: e.reason,
              message: `${url.origin} is not an async-ops service`
            })
            : e
        )
      ),
      (snapshot) => ({ raw, snapshot })
    ))

/** @internal */
export type TopError = UnreachableError | Introspection.SnapshotError

const ESC = "\u001b["
const ENTER_SCREEN = `${ESC}?1049h${ESC}?25l`
const LEAVE_SCREEN = `${ESC}?25h${ESC}?1049l`

type Event =
  | { readonly _tag: "tick" }
  | { readonly _tag: "key"; readonly key: string }
  | { readonly _tag: "quit" }

const write = (text: string) => Effect.sync(() => process.stdout.write(text))

/** The live view: the alternate screen, a frame a second drawn over the last one, keys for sort, filter, quit. */
const live = (url: URL, flags: Flags, sort: TaskSort) =>
  Effect.scoped(Effect.gen(function*() {
    const events = yield* Queue.unbounded<Event>()
    const stdin = process.stdin
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        const onData = (chunk: Buffer | string) => {
          for (const key of String(chunk)) Queue.offerUnsafe(events, { _tag: "key", key })
        }
        const onSignal = () => Queue.offerUnsafe(events, { _tag: "quit" })
        const raw = stdin.isTTY === true
        if (raw) stdin.setRawMode(true)
        stdin.on("data", onData)
        stdin.resume()
        process.on("SIGINT", onSignal)
        process.on("SIGTERM", onSignal)
        process.stdout.write(ENTER_SCREEN)
        return { onData, onSignal, raw }
      }),
      ({ onData, onSignal, raw }) =>
        Effect.sync(() => {
          process.stdout.write(LEAVE_SCREEN)
          stdin.off("data", onData)
          if (raw) stdin.setRawMode(false)
          stdin.pause()
          process.off("SIGINT", onSignal)
          process.off("SIGTERM", onSignal)
        })
    )
    yield* Queue.offer(events, { _tag: "tick" }).pipe(
      Effect.repeat(Schedule.spaced(Duration.millis(flags.interval * 1000))),
      Effect.forkScoped
    )
    let current: Introspection.Snapshot | undefined
    let previous: Introspection.Snapshot | undefined
    let error = ""
    let filter = flags.filter
    let typing = false
    let view: TaskSort = sort
    while (true) {
      const event = yield* Queue.take(events)
      if (event._tag === "quit") return
      if (event._tag === "tick") {
        const result = yield* Effect.result(fetchSnapshot(url, flags.timeout))
        if (result._tag === "Success") {
          previous = current
          current = result.success.snapshot
          error = ""
        } else {
          error = `${result.failure.message} (retrying)`
        }
      } else {
        const key = event.key
        if (typing) {
          if (key === "\r" || key === "\n") typing = false
          else if (key === "\u001b") {
            typing = false
            filter = ""
          } else if (key === "\u007f" || key === "\b") filter = filter.slice(0, -1)
          else if (key === "\u0003") return
          else if (key >= " ") filter += key
        } else if (key === "q" || key === "Q" || key === "\u0003") return
        else if (key === "s") view = TASK_SORTS[(TASK_SORTS.indexOf(view) + 1) % TASK_SORTS.length]!
        else if (key === "/") {
          typing = true
          filter = ""
        } else if (key === "\u001b") filter = ""
      }
      const columns = flags.width ?? process.stdout.columns ?? 100
      const rows = process.stdout.rows ?? 50
      const status = typing ? `filter: ${filter}_` : error
      const frameView: View = { width: columns - 1, sort: view, filter, source: url.origin, status }
      const lines = current === undefined
        ? [status === "" ? `connecting to ${url.origin}…` : status]
        : render(current, previous, frameView)
      // cursor home, each line then clear-to-end-of-line, then clear below: no blank frame, no flicker
      yield* write(`${ESC}H${lines.slice(0, rows).map((l) => `${l}${ESC}K`).join("\r\n")}${ESC}J`)
    }
  }))

/** @internal */
export const run = (flags: Flags): Effect.Effect<void, UsageError | TopError> =>
  Effect.gen(function*() {
    const url = snapshotUrl(flags.url)
    if (url === undefined) return yield* new UsageError({ reason: `not an http(s) URL: ${flags.url}` })
    if (!TASK_SORTS.includes(flags.sort as TaskSort)) {
      return yield* new UsageError({ reason: `--sort must be one of ${TASK_SORTS.join(", ")}, got ${flags.sort}` })
    }
    if (!(Number.isFinite(flags.interval) && flags.interval >= 0.1)) {
      return yield* new UsageError({ reason: `--interval must be a number of seconds >= 0.1, got ${flags.interval}` })
    }
    if (!(Number.isSafeInteger(flags.timeout) && flags.timeout >= 1)) {
      return yield* new UsageError({
        reason: `--timeout must be an integer of milliseconds >= 1, got ${flags.timeout}`
      })
    }
    if (flags.width !== undefined && !(Number.isSafeInteger(flags.width) && flags.width >= 40)) {
      return yield* new UsageError({ reason: `--width must be an integer >= 40, got ${flags.width}` })
    }
    const sort = flags.sort as TaskSort
    if (flags.json) {
      const { raw } = yield* fetchSnapshot(url, flags.timeout)
      yield* write(`${JSON.stringify(raw, null, 2)}\n`)
      return
    }
    if (flags.once) {
      const { snapshot } = yield* fetchSnapshot(url, flags.timeout)
      const width = flags.width ?? process.stdout.columns ?? 100
      const lines = render(snapshot, undefined, { width, sort, filter: flags.filter, source: url.origin })
      yield* write(`${lines.map((l) => l.trimEnd()).join("\n")}\n`)
      return
    }
    yield* live(url, flags, sort)
  })
