import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../04-production/probes.ts"
import { runLiveExample } from "../03-http/runLive.ts"

it.live("04-production/probes answers startup, liveness and readiness probes over a real server as state changes", () =>
  Effect.gen(function*() {
    expect(yield* runLiveExample(program)).toEqual([
      "starting (migrations run)    /startupz 503  /livez 200  /readyz 503",
      "migrations done              /startupz 200  /livez 200  /readyz 200",
      "cache down (non-critical)    /startupz 200  /livez 200  /readyz 200",
      "/healthz degraded: event-loop=healthy migrations=healthy cache=degraded shutdown=healthy",
      "SIGTERM: draining            /startupz 200  /livez 200  /readyz 503",
      "-- server stopped with the scope"
    ])
  }))
