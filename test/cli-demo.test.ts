/**
 * `async-ops demo` as a real process at a small size: it exits 0, and its summary accounts for every URL (the
 * outcome counts add up to the total, which is the number of URLs), with the per-host peaks within the caps.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { runCli } from "./support/cli.ts"

const cli = (args: ReadonlyArray<string>) => runCli(args, { timeout: 90_000 })

/** The summary's numbers: outcome rows, total, and the per-host rows. */
const parse = (stdout: string) => {
  const lines = stdout.split("\n")
  const start = lines.indexOf("outcomes")
  const end = lines.findIndex((l, i) => i > start && l.startsWith("  total"))
  const outcomes = lines.slice(start + 1, end).map((l) => {
    const m = /^ {2}(.+?)\s+(\d+)$/.exec(l)
    return [m![1]!, Number(m![2])] as const
  })
  const total = Number(/(\d+)$/.exec(lines[end]!)![1])
  const hostsAt = lines.indexOf("per host (seen by the server)")
  const hosts = lines.slice(hostsAt + 2).filter((l) => l.trim() !== "").map((l) => {
    const [host, role, requests, peakCap] = l.trim().split(/\s+/)
    const [peak, cap] = peakCap!.split("/").map(Number)
    return { host: host!, role: role!, requests: Number(requests), peak: peak!, cap: cap! }
  })
  return { lines, outcomes, total, hosts }
}

describe("async-ops demo (process)", () => {
  it.live("a small run exits 0 and its summary accounts for every URL", () =>
    Effect.gen(function*() {
      const o = yield* cli(["demo", "--urls", "400", "--hosts", "3", "--latency", "2", "--per-host", "6"])
      expect(o.code).toBe(0)
      const s = parse(o.stdout)
      expect(s.lines[0]).toMatch(/^async-ops demo: 400 URLs over 3 hosts in \d+\.\d\d s$/)
      expect(s.total).toBe(400)
      expect(s.outcomes.reduce((n, [, c]) => n + c, 0)).toBe(400)
      const succeeded = Number(/^succeeded\s+(\d+)$/m.exec(o.stdout)![1])
      const failed = Number(/^failed\s+(\d+)$/m.exec(o.stdout)![1])
      expect(succeeded + failed).toBe(400)
      const attempts = /^attempts\s+(\d+) \((\d+) retries\)$/m.exec(o.stdout)!
      expect(Number(attempts[1])).toBeGreaterThanOrEqual(Number(attempts[2]))
      expect(o.stdout).toMatch(/^latency ms\s+p50 [\d.]+ {2}p95 [\d.]+ {2}p99 [\d.]+ {2}max [\d.]+$/m)
      expect(s.hosts.map((h) => h.role)).toStrictEqual(["normal", "flaky", "slow"])
      for (const h of s.hosts) {
        expect(h.host).toMatch(/^127\.0\.0\.\d:\d+$/)
        expect(h.cap).toBe(6)
        expect(h.peak).toBeGreaterThan(0)
        expect(h.peak).toBeLessThanOrEqual(6)
      }
      // the server saw every attempt that reached it (fast-failed calls never left the client)
      const reached = s.hosts.reduce((n, h) => n + h.requests, 0)
      expect(reached).toBeLessThanOrEqual(Number(attempts[1]))
      // the 429 line agrees with the outcomes: the final 429s are the "StatusError 429" row, the rest were retried
      const rateLimited =
        /^429 Retry-After\s+(\d+) responses: (\d+) retried after the wait, (\d+) final \(StatusError 429\)$/m
          .exec(o.stdout)!
      const final429 = s.outcomes.find(([label]) => label === "StatusError 429")?.[1] ?? 0
      expect(Number(rateLimited[3])).toBe(final429)
      expect(Number(rateLimited[2]) + Number(rateLimited[3])).toBe(Number(rateLimited[1]))
      // not a terminal: a few plain progress lines on stderr at most
      expect(o.stderr.split("\n").filter((l) => l !== "").every((l) => l.startsWith("progress: "))).toBe(true)
    }), 120_000)

  it.live("without faults every URL succeeds on its first attempt", () =>
    Effect.gen(function*() {
      const o = yield* cli(["demo", "--urls", "300", "--hosts", "2", "--faults", "0", "--latency", "1"])
      expect(o.code).toBe(0)
      const s = parse(o.stdout)
      expect(s.outcomes).toStrictEqual([["200 ok", 300]])
      expect(s.total).toBe(300)
      expect(o.stdout).toMatch(/^attempts\s+300 \(0 retries\)$/m)
      expect(o.stdout).toMatch(/^breaker openings\s+0$/m)
      expect(s.hosts.reduce((n, h) => n + h.requests, 0)).toBe(300)
    }), 120_000)
})
