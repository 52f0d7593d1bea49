import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../09-template/app.ts"
import { runLiveExample } from "../03-http/runLive.ts"

it.live("09-template/app serves, answers probes and metrics, and shuts down cleanly with a request in flight", () =>
  Effect.gen(function*() {
    expect(yield* runLiveExample(program)).toEqual([
      "-- listening on a free port",
      "GET /work?ms=20 200 {\"ok\":true}",
      "GET /items/7 200 {\"id\":7,\"name\":\"item-7\"}",
      "GET /aggregate 200 {\"items\":[{\"id\":1,\"name\":\"item-1\"},{\"id\":2,\"name\":\"item-2\"},{\"id\":3,\"name\":\"item-3\"},{\"id\":4,\"name\":\"item-4\"},{\"id\":5,\"name\":\"item-5\"}],\"failed\":0}",
      "GET /readyz 200 (empty)",
      "GET /healthz 200 healthy: shutdown healthy",
      "GET /metrics 200 shows async_ops_in_flight for the server: true",
      "-- shutdown triggered with a request in flight",
      "GET /readyz 503 (the listener is still open)",
      "in-flight GET /work 200 {\"ok\":true}",
      "phases: running -> draining -> stopping -> stopped",
      "steps: drain delay done, demo caller done, http done, finalizers done",
      "outcome: clean, exit code 0, cut off: 0"
    ])
  }))
