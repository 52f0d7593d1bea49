import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestConsole } from "effect/testing"
import { readFileSync } from "node:fs"
import { vi } from "vitest"
import * as Cli from "../src/Cli.ts"
import { joinNegativeValues } from "../src/internal/cli.ts"

/** Runs the tool in-process and captures what it writes to stdout and stderr. */
const runCaptured = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const out: Array<string> = []
    const err: Array<string> = []
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk))
      return true
    })
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      err.push(String(chunk))
      return true
    })
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        stdout.mockRestore()
        stderr.mockRestore()
      })
    )
    const code = yield* Cli.run(args).pipe(Effect.provide(NodeServices.layer))
    // help and version go through Effect's Console (the test console here), errors straight to process.stderr
    const logged = (yield* TestConsole.logLines).map((l) => `${String(l)}\n`)
    return { code, stdout: out.join("") + logged.join(""), stderr: err.join("") }
  }).pipe(Effect.scoped)

describe("Cli.run", () => {
  it.effect("--version prints the version and returns 0", () =>
    Effect.gen(function*() {
      const r = yield* runCaptured(["--version"])
      expect(r.code).toBe(0)
      expect(r.stdout).toContain(Cli.version)
      const manifest = yield* Effect.sync(() =>
        JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
      )
      expect(Cli.version).toBe(manifest.version)
    }))

  it.effect("--help lists every subcommand and returns 0", () =>
    Effect.gen(function*() {
      const r = yield* runCaptured(["--help"])
      expect(r.code).toBe(0)
      for (const name of ["fetch", "demo", "serve", "scan"]) expect(r.stdout).toMatch(new RegExp(`^ {2}${name} `, "m"))
      expect(r.stderr).toBe("")
    }))

  it.effect("--help of each command shows every flag's default", () =>
    Effect.gen(function*() {
      const fetch = (yield* runCaptured(["fetch", "--help"])).stdout
      expect(fetch).toMatch(/--concurrency, -c integer +Requests in flight at once \(>= 1\) \(default: 50\)/)
      expect(fetch).toMatch(/--timeout string +.*\(default: 10s\)/)
      expect(fetch).toMatch(/--max-redirects integer +.*\(default: 10\)/)
      expect(fetch).toMatch(/--resume +.*fetched again \(at least once\)/)
      const demo = (yield* runCaptured(["demo", "--help"])).stdout
      expect(demo).toMatch(/--urls integer +URLs to fetch \(>= 1\) \(default: 3000\)/)
      const serve = (yield* runCaptured(["serve", "--help"])).stdout
      expect(serve).toMatch(/--budget string +The whole shutdown's budget \(default: 10s\)/)
    }))

  it.effect("a parse error gives one line on stderr, no help on stdout, and 2", () =>
    Effect.gen(function*() {
      const r = yield* runCaptured(["demo", "--urls", "lots"])
      expect(r.code).toBe(2)
      expect(r.stdout).toBe("")
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1)
      expect(r.stderr).toMatch(/^async-ops demo: .*lots.* \(see async-ops demo --help\)\n$/)
    }))

  it.effect("a usage error found by a command gives 2 and its reason", () =>
    Effect.gen(function*() {
      const r = yield* runCaptured(["fetch", "--per-host=0", "-"])
      expect(r).toStrictEqual({ code: 2, stdout: "", stderr: "async-ops: --per-host must be an integer >= 1, got 0\n" })
    }))

  it.effect("a missing input file gives 2", () =>
    Effect.gen(function*() {
      const r = yield* runCaptured(["fetch", "/no/such/dir/urls.txt"])
      expect(r).toStrictEqual({
        code: 2,
        stdout: "",
        stderr: "async-ops: cannot read /no/such/dir/urls.txt: no such file\n"
      })
    }))
})

describe("joinNegativeValues", () => {
  it("joins a flag with a following negative number or duration, and leaves everything else", () => {
    expect(joinNegativeValues(["fetch", "u.txt", "--timeout", "-5s", "-c", "-3", "--grace", "1s", "-q"])).toStrictEqual(
      ["fetch", "u.txt", "--timeout=-5s", "-c", "-3", "--grace", "1s", "-q"]
    )
    expect(joinNegativeValues(["--retries=-1", "--quiet", "-"])).toStrictEqual(["--retries=-1", "--quiet", "-"])
  })
})
