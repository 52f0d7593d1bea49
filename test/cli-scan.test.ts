/**
 * `async-ops scan` as a real process: exit codes 0 / 1 / 2, the text and JSON reports on stdout, and a one-line
 * error on stderr, run through the `async-ops` bin (`bin.ts scan ...`).
 */
import * as Scan from "@async-ops/cli/Scan"
import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, FileSystem } from "effect"
import { join } from "node:path"
import { root, runCli } from "./support/cli.ts"

const dirty = "packages/cli/test/fixtures/scan/dirty"
const clean = "packages/cli/test/fixtures/scan/clean"

/** Runs the scan command in a child process (the real node binary, cwd = the repository root). */
const scanProcess = (args: ReadonlyArray<string>, cwd: string = root) =>
  runCli(["scan", ...args], { cwd, timeout: 90_000, maxBuffer: 16 * 1024 * 1024 })

describe("async-ops scan (process)", { timeout: 120_000 }, () => {
  it.live("exits 0 and prints the summary when nothing is found", () =>
    Effect.gen(function*() {
      const outcome = yield* scanProcess([clean])
      expect(outcome).toStrictEqual({ code: 0, stdout: "no problems found, 3 files scanned\n", stderr: "" })
    }))

  it.live("scans the current directory when no path is given", () =>
    Effect.gen(function*() {
      const outcome = yield* scanProcess([], join(root, clean))
      expect(outcome).toStrictEqual({ code: 0, stdout: "no problems found, 3 files scanned\n", stderr: "" })
    }))

  it.live("exits 1 and prints one line per finding plus a summary when anything is found", () =>
    Effect.gen(function*() {
      const outcome = yield* scanProcess([dirty])
      expect(outcome.code).toBe(1)
      expect(outcome.stderr).toBe("")
      const lines = outcome.stdout.trimEnd().split("\n")
      expect(lines.length).toBe(34)
      expect(lines[0]).toBe(
        `${dirty}/callbacks.tsx:8:40 blocking-fs readFileSync(path, "utf8") → ` +
          "use FileSystem.readFile (effect), or Effect.tryPromise(() => fs.promises.readFile(...))"
      )
      expect(lines.at(-1)).toBe(
        "33 problems (10 blocking-fs, 3 blocking-child-process, 4 blocking-crypto, 2 blocking-zlib, 1 atomics-wait, " +
          "3 busy-wait, 5 orphaned-fiber, 5 floating-promise) in 8 files, 8 files scanned"
      )
    }))

  it.live("--json prints a report that parses and matches the in-process scan", () =>
    Effect.gen(function*() {
      const outcome = yield* scanProcess(["--json", `${root}${dirty}`])
      expect(outcome.code).toBe(1)
      expect(outcome.stderr).toBe("")
      const expected = yield* Scan.scan([`${root}${dirty}`]).pipe(Effect.provide(NodeServices.layer))
      expect(JSON.parse(outcome.stdout)).toStrictEqual(Scan.toJson(expected))
    }))

  it.live("a JSON report larger than a pipe buffer reaches stdout whole before the exit", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const calls = Array.from({ length: 2_000 }, (_, i) => `  readFileSync("file-${i}")`)
      const source = [`import { readFileSync } from "node:fs"`, `export async function f() {`, ...calls, `}`]
      yield* fs.writeFileString(join(dir, "many.ts"), source.join("\n"))
      const outcome = yield* scanProcess([dir, "--json"])
      expect(outcome.code).toBe(1)
      expect(outcome.stdout.length).toBeGreaterThan(256 * 1024)
      const parsed = JSON.parse(outcome.stdout)
      expect(parsed.summary).toStrictEqual({
        filesScanned: 1,
        filesNotParsed: 0,
        problems: 2_000,
        filesWithProblems: 1,
        byRule: { "blocking-fs": 2_000 }
      })
      expect(parsed.findings.at(-1).line).toBe(2_002)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.live("exits 2 with a one-line error on stderr, and no stack trace, for a missing path", () =>
    Effect.gen(function*() {
      const outcome = yield* scanProcess([clean, "no/such/dir"])
      expect(outcome).toStrictEqual({
        code: 2,
        stdout: "",
        stderr: "async-ops scan: path not found: no/such/dir\n"
      })
    }))

  it.live("exits 2 for a path with nothing to scan and for a file it cannot parse", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      yield* fs.makeDirectory(join(dir, "dist"), { recursive: true })
      yield* fs.writeFileString(join(dir, "dist/index.js"), "export {}\n")
      const skipped = yield* scanProcess([dir])
      expect(skipped.code).toBe(2)
      expect(skipped.stderr).toMatch(
        /^async-ops scan: nothing to scan in .*: no JavaScript or TypeScript files outside/
      )
      yield* fs.writeFileString(join(dir, "broken.ts"), "export const x = (\n")
      const broken = yield* scanProcess([dir])
      expect(broken.code).toBe(2)
      expect(broken.stdout).toContain("broken.ts:1:19 syntax error: Expression expected. (not scanned)")
      expect(broken.stdout).toContain("0 files scanned, 1 file not parsed (syntax errors)")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 120_000)
})
