/**
 * `async-ops` bad input as real processes: every case exits 2 with one line on stderr naming the problem, nothing on
 * stdout, and no stack trace.
 */
import { FaultServer } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Outcome, runCli } from "./support/cli.ts"

const cli = (args: ReadonlyArray<string>) => runCli(args, { timeout: 90_000 })

const dir = mkdtempSync(join(tmpdir(), "async-ops-cli-errors-"))
const urls = join(dir, "urls.txt")
writeFileSync(urls, "http://127.0.0.1:1/a\n")
const binary = join(dir, "binary.txt")
writeFileSync(
  binary,
  Buffer.concat([
    Buffer.from("http://127.0.0.1:1/a\nhttp://127.0.0.1:1/"),
    Buffer.from([0xff, 0xfe]),
    Buffer.from("\n")
  ])
)

/** Exit 2, one line on stderr matching `pattern`, empty stdout, no stack frame. */
const expectUsage = (outcome: Outcome, pattern: RegExp) => {
  expect(outcome.code).toBe(2)
  expect(outcome.stdout).toBe("")
  expect(outcome.stderr.endsWith("\n")).toBe(true)
  expect(outcome.stderr.trimEnd().split("\n")).toHaveLength(1)
  expect(outcome.stderr).toMatch(pattern)
  expect(outcome.stderr).not.toMatch(/\n\s+at /)
}

describe("async-ops bad input (process)", { timeout: 120_000 }, () => {
  it.live("an unknown flag exits 2 naming the flag", () =>
    Effect.map(cli(["fetch", "--bogus", urls]), (o) => expectUsage(o, /^async-ops fetch: .*--bogus/)))

  it.live("an unknown subcommand exits 2", () =>
    Effect.map(cli(["frobnicate"]), (o) => expectUsage(o, /^async-ops: .*frobnicate/)))

  it.live("a missing input file exits 2 naming the file", () =>
    Effect.map(
      cli(["fetch", join(dir, "nope.txt")]),
      (o) => expectUsage(o, /^async-ops: cannot read .*nope\.txt: no such file$/m)
    ))

  it.live("a line that is not UTF-8 exits 2 naming the line", () =>
    Effect.map(cli(["fetch", binary]), (o) => expectUsage(o, /binary\.txt: line 2 is unreadable: not valid UTF-8$/m)))

  it.live("a negative concurrency exits 2", () =>
    Effect.map(
      cli(["fetch", "--concurrency=-1", urls]),
      (o) => expectUsage(o, /^async-ops: --concurrency must be an integer >= 1, got -1$/m)
    ))

  it.live("a negative value after a space is read as the flag's value and named, not 'Missing value'", () =>
    Effect.gen(function*() {
      expectUsage(
        yield* cli(["fetch", urls, "--timeout", "-5s"]),
        /^async-ops: --timeout must not be negative, got -5s$/m
      )
      expectUsage(
        yield* cli(["fetch", urls, "--concurrency", "-3"]),
        /^async-ops: --concurrency must be an integer >= 1, got -3$/m
      )
      expectUsage(
        yield* cli(["fetch", urls, "--retries", "1000000000"]),
        /^async-ops: --retries must be an integer from 0 to 100, got 1000000000$/m
      )
    }))

  it.live("a non-numeric concurrency exits 2", () =>
    Effect.map(cli(["fetch", "--concurrency", "many", urls]), (o) => expectUsage(o, /^async-ops fetch: .*many/)))

  it.live("--resume without --out exits 2", () =>
    Effect.map(cli(["fetch", "--resume", urls]), (o) => expectUsage(o, /^async-ops: --resume needs --out <file>$/m)))

  it.live("a malformed --header exits 2", () =>
    Effect.map(cli(["fetch", "-H", "no colon", urls]), (o) => expectUsage(o, /--header must look like "Name: value"/)))

  it.live("a bad duration exits 2", () =>
    Effect.map(cli(["fetch", "--timeout", "soon", urls]), (o) => expectUsage(o, /--timeout must be a duration/)))

  it.live("demo with zero URLs exits 2", () =>
    Effect.map(
      cli(["demo", "--urls", "0"]),
      (o) => expectUsage(o, /^async-ops: --urls must be an integer >= 1, got 0$/m)
    ))

  it.live("serve on a port in use exits 2 with 'address in use'", () =>
    Effect.gen(function*() {
      const taken = yield* FaultServer.make({ hosts: 1 })
      const o = yield* cli(["serve", "--port", String(taken.port), "--admin-port", "0"])
      expectUsage(o, new RegExp(`^async-ops: cannot listen on 127\\.0\\.0\\.1:${taken.port}: address in use$`, "m"))
    }).pipe(Effect.scoped))

  it.live("serve with an admin port in use exits 2", () =>
    Effect.gen(function*() {
      const taken = yield* FaultServer.make({ hosts: 1 })
      const o = yield* cli(["serve", "--port", "0", "--admin-port", String(taken.port)])
      // the fault server listened first and printed nothing: the error is the only output
      expectUsage(o, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${taken.port}: address in use$`, "m"))
    }).pipe(Effect.scoped))

  it.live("serve with a host that is not loopback exits 2", () =>
    Effect.map(
      cli(["serve", "--host", "0.0.0.0", "--port", "0"]),
      (o) => expectUsage(o, /--host must be an IPv4 loopback address/)
    ))
})
