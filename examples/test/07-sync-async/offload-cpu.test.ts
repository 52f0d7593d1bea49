import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../07-sync-async/offload-cpu.ts"
import { runLiveExample } from "../03-http/runLive.ts"

it.live(
  "07-sync-async/offload-cpu computes on worker threads in parallel and stops a timed-out call",
  () =>
    Effect.gen(function*() {
      expect(yield* runLiveExample(program)).toEqual([
        "-- fib(25..28) on 2 worker threads, in parallel",
        "fib(25) = 75025",
        "fib(26) = 121393",
        "fib(27) = 196418",
        "fib(28) = 317811",
        "pool: threads=2 completed=4",
        "-- fib(60) (years of CPU) with a 200 ms timeout",
        "TimeoutError: the worker was terminated",
        "the pool keeps working: fib(20) = 6765",
        "pool: completed=5 replaced=1 busy=0"
      ])
    }),
  30_000
)
