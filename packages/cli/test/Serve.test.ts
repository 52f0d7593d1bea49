import { FaultServer } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import * as internal from "../src/internal/serve.ts"
import * as Serve from "../src/Serve.ts"

describe("Serve.routesFor", () => {
  it("has only 200s on the default route for the none profile, and more faults for heavier ones", () => {
    expect(Serve.profiles).toStrictEqual(["none", "light", "default", "heavy"])
    expect(Serve.routesFor("none", 0).defaultRoute).toStrictEqual({ latency: 0, mix: [[200, 1]] })
    const faultWeight = (p: Serve.Profile) =>
      (Serve.routesFor(p, 10).defaultRoute.mix ?? []).slice(1).reduce((n, [, w]) => n + w, 0)
    expect(faultWeight("light")).toBeCloseTo(0.045)
    expect(faultWeight("default")).toBeCloseTo(0.09)
    expect(faultWeight("heavy")).toBeCloseTo(0.27)
    expect(Object.keys(Serve.routesFor("default", 10).routes)).toStrictEqual([
      "/ok",
      "/slow",
      "/reset",
      "/hang",
      "/429",
      "/503",
      "/large"
    ])
  })

  it.live("scripts a real FaultServer: the fixed paths answer as named", () =>
    Effect.gen(function*() {
      const server = yield* FaultServer.make(Serve.routesFor("none", 0))
      const status = (path: string) =>
        Effect.promise(() => fetch(server.url(path)).then((r) => r.arrayBuffer().then(() => r.status)))
      expect(yield* status("/ok")).toBe(200)
      expect(yield* status("/429")).toBe(429)
      expect(yield* status("/503")).toBe(503)
      expect(yield* status("/any/other/path")).toBe(200)
      expect((yield* server.stats).byRoute).toMatchObject({ "/ok": 1, "/429": 1, "/503": 1, "(default)": 1 })
    }).pipe(Effect.scoped))
})

describe("serve options", () => {
  const base: internal.ServeOptions = {
    host: "127.0.0.1",
    port: 0,
    adminPort: 0,
    profile: "default",
    latency: 20,
    seed: 1,
    drainDelay: "1s",
    budget: "10s"
  }

  it.effect("accepts loopback hosts and reads durations", () =>
    Effect.gen(function*() {
      const r = yield* internal.resolveOptions({ ...base, host: "127.0.0.2" })
      expect(r.host).toBe("127.0.0.2")
      expect(Duration.toMillis(r.drainDelay)).toBe(1000)
      expect(Duration.toMillis(r.budget)).toBe(10_000)
    }))

  it.effect("rejects every bad value with a one-line usage error", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [Partial<internal.ServeOptions>, string]> = [
        [{ port: -1 }, "--port must be an integer >= 0, got -1"],
        [{ port: 70000 }, "--port must be at most 65535, got 70000"],
        [{ adminPort: 65536 }, "--admin-port must be at most 65535, got 65536"],
        [{ port: 8080, adminPort: 8080 }, "--port and --admin-port must differ, both are 8080"],
        [{ host: "10.0.0.1" }, "--host must be an IPv4 loopback address (127.x.y.z), got 10.0.0.1"],
        [{ host: "127.0.0.300" }, "--host must be an IPv4 loopback address (127.x.y.z), got 127.0.0.300"],
        [{ profile: "chaos" }, "--profile must be one of none, light, default, heavy, got chaos"],
        [{ latency: -5 }, "--latency must be a number of milliseconds >= 0, got -5"],
        [{ drainDelay: "10s", budget: "5s" }, "--budget must be longer than --drain-delay"]
      ]
      for (const [patch, message] of cases) {
        const error = yield* Effect.flip(internal.resolveOptions({ ...base, ...patch }))
        expect(error.message).toBe(message)
      }
    }))
})
