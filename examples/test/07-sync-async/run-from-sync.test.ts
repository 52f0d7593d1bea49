import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../07-sync-async/run-from-sync.ts"
import { runLiveExample } from "../03-http/runLive.ts"

it.live("07-sync-async/run-from-sync drives a ManagedRuntime from plain code and disposes it", () =>
  Effect.gen(function*() {
    expect(yield* runLiveExample(program)).toEqual([
      "layer: greeter opened (once)",
      "runPromise: hello Ada",
      "runPromise x2 at once: hello Grace, hello Linus",
      "runSync of a synchronous effect: 3 calls so far",
      "runSync of an asynchronous effect: throws (use runPromise)",
      "runPromiseExit of a failure: Failure, no throw",
      "runPromise of a failure: rejects",
      "layer: greeter closed (on dispose)",
      "disposed"
    ])
  }))
