/// <reference lib="dom" />
/**
 * `demo --report` and `fetch --report` write one self-contained HTML file whose numbers come from the run. The
 * file is opened in a real browser (Debian's chromium through puppeteer-core, no downloaded browser): every chart
 * is drawn with non-empty series, the latency percentiles and the outcome counts match the summary the demo
 * printed, nothing is fetched from the network, and a screenshot is saved to test/artifacts/ (gitignored).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { root, runCli } from "./support/cli.ts"

const CHROMIUM = "/usr/bin/chromium"
const INSTALL = "apt-get update && apt-get install -y chromium"
const hasChromium = existsSync(CHROMIUM)
const inCi = process.env["CI"] === "true"
if (!hasChromium && !inCi) console.log(`report browser test skipped: no ${CHROMIUM} (install: ${INSTALL})`)

const artifacts = join(root, "test", "artifacts")

interface Drawn {
  readonly charts: ReadonlyArray<string>
  readonly series: ReadonlyArray<{ chart: string; name: string; points: number; shapes: number; length: number }>
  readonly markers: Record<string, number>
  readonly outcomes: ReadonlyArray<string>
  readonly requests: number
}

/** Opens `file` in headless chromium, reads what was drawn and saves a screenshot to `png`. */
const inBrowser = (file: string, png: string) =>
  Effect.acquireUseRelease(
    Effect.promise(async () => {
      const puppeteer = await import("puppeteer-core")
      return puppeteer.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          `--user-data-dir=${mkdtempSync(join(tmpdir(), "async-ops-chromium-"))}`
        ]
      })
    }),
    (browser) =>
      Effect.promise(async (): Promise<Drawn> => {
        const page = await browser.newPage()
        let requests = 0
        page.on("request", (r) => {
          if (!r.url().startsWith("file:")) requests++
        })
        await page.setViewport({ width: 900, height: 1400 })
        await page.goto(`file://${file}`, { waitUntil: "load" })
        const drawn = await page.evaluate(() => {
          const charts = Array.from(document.querySelectorAll("svg[data-chart]")).map((s) =>
            s.getAttribute("data-chart")!
          )
          const series = Array.from(document.querySelectorAll("svg[data-chart] .series")).map((el) => ({
            chart: el.closest("svg")!.getAttribute("data-chart")!,
            name: el.getAttribute("data-series")!,
            points: Number(el.getAttribute("data-points")),
            shapes: el.querySelectorAll("rect, line").length,
            length: el instanceof SVGPathElement ? el.getTotalLength() : 0
          }))
          const markers = Object.fromEntries(
            Array.from(document.querySelectorAll("[data-marker]")).map((m) => [
              m.getAttribute("data-marker")!,
              Number(m.getAttribute("data-value"))
            ])
          )
          const outcomes = Array.from(document.querySelectorAll("svg[data-chart=outcomes] text")).map((t) =>
            t.textContent ?? ""
          )
          return { charts, series, markers, outcomes }
        })
        await page.screenshot({ path: png, fullPage: true })
        return { ...drawn, requests }
      }),
    (browser) => Effect.promise(() => browser.close())
  )

describe.skipIf(!hasChromium && !inCi)("run reports in a browser", () => {
  it.live("demo --report: every chart has data from the run, and a screenshot is saved", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "async-ops-report-"))
      const file = join(dir, "run.html")
      const demo = yield* runCli(["demo", "--urls", "800", "--hosts", "3", "--report", file], { timeout: 120_000 })
      expect(demo.code).toBe(0)
      const html = readFileSync(file, "utf8")
      expect(html).not.toMatch(/<script|<link|https?:\/\//)
      mkdirSync(artifacts, { recursive: true })
      const drawn = yield* inBrowser(file, join(artifacts, "report.png"))
      expect(drawn.requests).toBe(0)
      expect(drawn.charts).toEqual(["inflight", "latency", "outcomes", "timeline"])
      const inflight = drawn.series.filter((s) => s.chart === "inflight")
      expect(inflight.length).toBe(3)
      for (const s of inflight) {
        expect(s.points).toBeGreaterThan(0)
        expect(s.length).toBeGreaterThan(0)
      }
      const latency = drawn.series.find((s) => s.chart === "latency")!
      expect(latency.shapes).toBe(latency.points)
      const outcomeSeries = drawn.series.find((s) => s.chart === "outcomes")!
      expect(outcomeSeries.shapes).toBeGreaterThan(0)
      expect(drawn.series.filter((s) => s.chart === "timeline").map((s) => s.name)).toEqual([
        "completed",
        "retries",
        "breaker-openings"
      ])
      // the numbers are the run's: percentiles and outcome counts as the demo's summary printed them
      const summary = demo.stdout
      const latencyLine = /latency ms\s+p50 (\S+)\s+p95 (\S+)\s+p99 (\S+)/.exec(summary)!
      const demoFormat = (ms: number) => ms >= 100 ? ms.toFixed(0) : ms.toFixed(1)
      expect(["p50", "p95", "p99"].map((p) => demoFormat(drawn.markers[p]!))).toEqual(latencyLine.slice(1, 4))
      for (const [, label, count] of summary.matchAll(/^ {2}(\S.*?)\s{2,}(\d+)$/gm)) {
        if (label === "total" || label!.startsWith("not run")) continue
        expect(drawn.outcomes).toContain(label)
        expect(drawn.outcomes.some((t) => t.startsWith(`${count} (`))).toBe(true)
      }
      const openings = Number(/breaker openings\s+(\d+)/.exec(summary)![1])
      expect(drawn.series.find((s) => s.name === "breaker-openings")!.points).toBe(openings)
    }), 240_000)

  it.live(
    "fetch --report: in flight per host against the cap, outcomes from the records",
    () =>
      Effect.gen(function*() {
        const server = yield* Effect.acquireRelease(
          Effect.callback<http.Server>((resume) => {
            const s = http.createServer((req, res) => {
              const n = Number(req.url!.slice(1))
              setTimeout(() => res.writeHead(n % 10 === 0 ? 503 : 200).end("ok"), 5)
            })
            s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
          }),
          (s) => Effect.sync(() => s.closeAllConnections()).pipe(Effect.andThen(Effect.sync(() => s.close())))
        )
        const port = (server.address() as AddressInfo).port
        const dir = mkdtempSync(join(tmpdir(), "async-ops-report-"))
        const list = join(dir, "urls.txt")
        writeFileSync(list, Array.from({ length: 60 }, (_, i) => `http://127.0.0.1:${port}/${i}\n`).join(""))
        const file = join(dir, "run.html")
        const fetch = yield* runCli([
          "fetch",
          list,
          "--out",
          join(dir, "out.jsonl"),
          "--retries",
          "0",
          "--per-host",
          "4",
          "--report",
          file
        ], {
          timeout: 120_000
        })
        expect(fetch.code).toBe(0)
        mkdirSync(artifacts, { recursive: true })
        const drawn = yield* inBrowser(file, join(artifacts, "report-fetch.png"))
        const inflight = drawn.series.filter((s) => s.chart === "inflight")
        expect(inflight.map((s) => s.name)).toEqual([`127.0.0.1:${port}`])
        expect(inflight[0]!.length).toBeGreaterThan(0)
        expect(drawn.outcomes).toEqual(expect.arrayContaining(["200 ok", "54 (90.0%)", "StatusError", "6 (10.0%)"]))
      }).pipe(Effect.scoped),
    240_000
  )
})
