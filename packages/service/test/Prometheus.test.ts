import { Limiter } from "@async-ops/core"
import * as Prometheus from "@async-ops/service/Prometheus"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Metric } from "effect"
import { HttpRouter, HttpServer, HttpServerResponse } from "effect/http"

/** Serves `routes` with no socket and returns a function that GETs a path. */
const webHandler = (routes: Layer.Layer<never, unknown, HttpRouter.HttpRouter>) =>
  Effect.acquireRelease(
    Effect.sync(() => HttpRouter.toWebHandler(routes.pipe(Layer.provide(HttpServer.layerServices)))),
    ({ dispose }) => Effect.promise(() => dispose())
  ).pipe(
    Effect.map(({ handler }) => (path: string) =>
      Effect.promise(async () => {
        const res = await handler(new Request(`http://localhost${path}`))
        return { status: res.status, type: res.headers.get("content-type"), body: await res.text() }
      })
    )
  )

describe("Prometheus", () => {
  it.effect("a family measured in milliseconds is exposed in seconds (promtool's base-unit rule)", () =>
    Effect.gen(function*() {
      const histogram = Metric.histogram("prom_test_latency_ms", {
        description: "Test latency, in milliseconds",
        boundaries: [1, 250, 1000]
      })
      const gauge = Metric.gauge("prom_test_age_ms", { description: "Test age in milliseconds" })
      yield* Metric.update(histogram, 200)
      yield* Metric.update(histogram, 500)
      yield* Metric.update(gauge, 1500)
      const text = yield* Prometheus.format({ processMetrics: false })
      expect(text).not.toMatch(/^(# (HELP|TYPE) )?prom_test_\w*_ms\b/m)
      expect(text).toContain("# HELP prom_test_latency_seconds Test latency, in seconds")
      expect(text).toContain("# TYPE prom_test_latency_seconds histogram")
      expect(text).toMatch(/^prom_test_latency_seconds_bucket\{le="0\.001"\} 0$/m)
      expect(text).toMatch(/^prom_test_latency_seconds_bucket\{le="0\.25"\} 1$/m)
      expect(text).toMatch(/^prom_test_latency_seconds_bucket\{le="1"\} 2$/m)
      expect(text).toMatch(/^prom_test_latency_seconds_bucket\{le="\+Inf"\} 2$/m)
      expect(text).toMatch(/^prom_test_latency_seconds_sum 0\.7$/m)
      expect(text).toMatch(/^prom_test_latency_seconds_count 2$/m)
      expect(text).toMatch(/^prom_test_age_seconds 1\.5$/m)
    }))

  it.live("the route shows a Limiter's in-flight gauge labelled with primitive and name", () =>
    Effect.scoped(Effect.gen(function*() {
      const get = yield* webHandler(Prometheus.layer())
      const limiter = yield* Limiter.make({ limit: 2, name: "prom-test-db", metrics: true })
      const inside = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const holder = yield* Effect.forkChild(
        limiter.withPermit(Effect.andThen(Deferred.succeed(inside, undefined), Deferred.await(release))),
        { startImmediately: true }
      )
      yield* Deferred.await(inside)
      const during = yield* get("/metrics")
      expect(during.status).toBe(200)
      expect(during.type).toBe("text/plain; version=0.0.4; charset=utf-8")
      expect(during.body).toContain("# TYPE async_ops_in_flight gauge")
      expect(during.body).toMatch(/^async_ops_in_flight\{[^}]*primitive="Limiter"[^}]*\} 1$/m)
      expect(during.body).toMatch(/^async_ops_in_flight\{[^}]*name="prom-test-db"[^}]*\} 1$/m)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      const after = yield* get("/metrics")
      expect(after.body).toMatch(/^async_ops_in_flight\{[^}]*name="prom-test-db"[^}]*\} 0$/m)
      expect(after.body).toMatch(/^async_ops_acquired_total\{[^}]*name="prom-test-db"[^}]*\} 1$/m)
    })))

  it.live("process metrics are sampled at each scrape unless turned off", () =>
    Effect.scoped(Effect.gen(function*() {
      const get = yield* webHandler(Prometheus.layer())
      const body = (yield* get("/metrics")).body
      const rss = /^process_resident_memory_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(body)
      expect(Number(rss?.[1])).toBeGreaterThan(1_000_000)
      expect(body).toMatch(/^# TYPE process_cpu_user_seconds_total counter$/m)
      expect(body).toMatch(/^nodejs_heap_size_used_bytes \d/m)
      const start = Number(/^process_start_time_seconds (\S+)$/m.exec(body)?.[1])
      expect(Math.abs(start - performance.timeOrigin / 1000)).toBeLessThan(2)
      // in a registry of its own (Effect's MetricRegistry), nothing samples them
      const bare = yield* Prometheus.format({ processMetrics: false }).pipe(
        Effect.provideService(Metric.MetricRegistry, new Map())
      )
      expect(bare).toBe("")
      const sampled = yield* Prometheus.format().pipe(Effect.provideService(Metric.MetricRegistry, new Map()))
      expect(sampled).toMatch(/^process_resident_memory_bytes \d/m)
    })))

  it.live("a prefix and a custom path apply; the default path is then free", () =>
    Effect.scoped(Effect.gen(function*() {
      const get = yield* webHandler(Layer.mergeAll(
        Prometheus.layer({ path: "/internal/metrics", prefix: "shop" }),
        HttpRouter.add("GET", "/", HttpServerResponse.text("home"))
      ))
      const res = yield* get("/internal/metrics")
      expect(res.status).toBe(200)
      expect(res.body).toMatch(/^shop_process_resident_memory_bytes \d/m)
      expect(res.body).not.toMatch(/^process_resident_memory_bytes/m)
      expect((yield* get("/metrics")).status).toBe(404)
    })))

  it.live("handler mounts the same answer on any route", () =>
    Effect.scoped(Effect.gen(function*() {
      const handler = yield* Prometheus.handler({ processMetrics: false })
      const get = yield* webHandler(HttpRouter.add("GET", "/admin/m", handler))
      const res = yield* get("/admin/m")
      expect(res.status).toBe(200)
      expect(res.type).toBe(Prometheus.contentType)
    })))

  it.effect("bad options fail with InvalidOptionError", () =>
    Effect.gen(function*() {
      const msg = (e: { readonly message: string }) => e.message
      expect(msg(yield* Effect.flip(Prometheus.format({ prefix: "9lives" })))).toBe(
        "Prometheus.format: option prefix must be a Prometheus name ([a-zA-Z_][a-zA-Z0-9_]*) (got \"9lives\")"
      )
      expect(msg(yield* Effect.flip(Prometheus.handler({ path: "metrics" })))).toContain("option path")
      expect(msg(yield* Effect.flip(Prometheus.format({ processMetrics: "yes" as never })))).toContain(
        "processMetrics"
      )
      const built = yield* Effect.exit(
        Effect.scoped(Layer.build(Prometheus.layer({ path: "x" }).pipe(Layer.provide(HttpRouter.layer))))
      )
      expect(built._tag).toBe("Failure")
    }))
})
