import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../07-sync-async/bridge.ts"
import { runLiveExample } from "../03-http/runLive.ts"

it.live("07-sync-async/bridge wraps callback and Promise APIs and aborts an Effect from Promise-land", () =>
  Effect.gen(function*() {
    expect(yield* runLiveExample(program)).toEqual([
      "-- callback API -> Effect.callback",
      "lookup: feature-x=on",
      "typed failure: no key missing",
      "timeout: TimeoutError, legacy call cancelled: true",
      "-- Promise API with AbortSignal -> Effect.tryPromise",
      "interrupting the fiber aborted the promise's signal: true",
      "-- Effect -> Promise with an AbortSignal (Effect.runPromise)",
      "job: interrupted, finalizer ran",
      "controller.abort() -> the promise rejected"
    ])
  }))
