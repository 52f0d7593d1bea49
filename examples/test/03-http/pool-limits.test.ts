import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../03-http/pool-limits.ts"
import { runLiveExample } from "./runLive.ts"

it.live("03-http/pool-limits caps the connections per host and overall, as each host measured", () =>
  Effect.gen(function*() {
    expect(yield* runLiveExample(program)).toEqual([
      "-- limit_per_host=3: 30 requests fired at once at one host",
      "host 1: 30 requests, peak concurrency 3",
      "all hosts: 30 requests, peak concurrency 3",
      "-- limit=4 overall: 36 requests fired at once over 3 hosts, up to 10 per host",
      "host 1: 12 requests",
      "host 2: 12 requests",
      "host 3: 12 requests",
      "all hosts: 36 requests, peak concurrency 4",
      "-- both: limit=4, limit_per_host=2 over 2 hosts, 24 requests",
      "host 1: 12 requests, peak concurrency 2",
      "host 2: 12 requests, peak concurrency 2",
      "all hosts: 24 requests, peak concurrency 4"
    ])
  }))
