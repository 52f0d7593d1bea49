/**
 * Replaces Python's retry loop around a flaky aiohttp call, `for attempt in range(5): try: return await fetch(url)
 * except aiohttp.ClientError: await asyncio.sleep(0.02 * 2 ** attempt + random.uniform(0, 0.02))`, with
 * `Effect.retry` and a jittered Schedule: Effect's `Schedule.jittered` (each delay × 0.8–1.2) or `Retry.schedule`'s
 * full jitter (each delay drawn from [0, capped backoff)), which spreads many clients' retries apart. Jitter draws
 * from Effect's `Random` service, so `Random.withSeed` makes the run reproducible: the same delays every time,
 * under `TestClock` in the test and for real with `pnpm example`.
 */
import { Retry } from "@async-ops/core"
import { Console, Data, Duration, Effect, Random, Schedule } from "effect"

class ConnectionReset extends Data.TaggedError("ConnectionReset")<{ readonly attempt: number }> {}

/** A fetch that fails with a connection reset `failures` times, then answers. */
const flakyFetch = (url: string, failures: number) => {
  let attempt = 0
  return Effect.suspend(() =>
    ++attempt <= failures
      ? Effect.fail(new ConnectionReset({ attempt }))
      : Effect.succeed(`${url}: 200 OK on attempt ${attempt}`)
  )
}

/** Adds to a schedule a record of the delay it picks before each retry. */
const recordDelays = (delays: Array<number>) => <O, I, E, R>(self: Schedule.Schedule<O, I, E, R>) =>
  Schedule.tap(self, ({ duration }) =>
    Effect.sync(() => {
      delays.push(Math.round(Duration.toMillis(duration)))
    }))

export const program = Effect.gen(function*() {
  yield* Console.log("-- Effect's exponential backoff, jittered by 0.8-1.2 (nominal 20, 40, 80 ms)")
  const delays: Array<number> = []
  const body = yield* flakyFetch("/api/items", 3).pipe(
    Effect.retry(
      Schedule.exponential("20 millis").pipe(Schedule.jittered, Schedule.upTo({ times: 4 }), recordDelays(delays))
    )
  )
  yield* Console.log(`retried after ${delays.join(", ")} ms; ${body}`)

  yield* Console.log("-- full jitter: three clients hit by the same outage spread their retries")
  for (const client of ["a", "b", "c"]) {
    const picked: Array<number> = []
    const policy = Retry.schedule<ConnectionReset>({ base: "20 millis", maxDelay: "80 millis", maxAttempts: 5 })
    const result = yield* flakyFetch(`/api/items (client ${client})`, 3).pipe(
      Effect.retry(policy.pipe(recordDelays(picked)))
    )
    yield* Console.log(`client ${client} retried after ${picked.join(", ")} ms; ${result}`)
  }

  yield* Console.log("-- too flaky: the policy gives up after 5 attempts with the last typed error")
  const error = yield* flakyFetch("/api/broken", 10).pipe(
    Effect.retry(Retry.schedule<ConnectionReset>({ base: "5 millis", maxAttempts: 5 })),
    Effect.flip
  )
  yield* Console.log(`gave up: ${error._tag} on attempt ${error._tag === "ConnectionReset" ? error.attempt : "?"}`)
}).pipe(
  // A fixed seed for the demo; leave it out in production so that clients do not jitter in lockstep.
  Random.withSeed("02-concurrency/retry")
)
