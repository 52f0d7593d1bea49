import { InvalidOptionError } from "@async-ops/core/InvalidOption"
import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, FileSystem } from "effect"
import { Command } from "effect/cli"
import { TestConsole } from "effect/testing"
import * as nodePath from "node:path"
import { fileURLToPath } from "node:url"
import * as Scan from "../src/Scan.ts"

const fixtures = fileURLToPath(new URL("./fixtures/scan", import.meta.url))
const dirty = nodePath.join(fixtures, "dirty")
const clean = nodePath.join(fixtures, "clean")
const packagesDir = fileURLToPath(new URL("../..", import.meta.url))

/** `file:line:rule`, with the file relative to `base`. */
const keys = (base: string, findings: ReadonlyArray<Scan.Finding>) =>
  findings.map((f) => `${nodePath.relative(base, f.file)}:${f.line}:${f.rule}`)

/** Analyzes a snippet and returns `line:column rule` strings. */
const check = (source: string, fileName = "snippet.ts") =>
  Scan.analyze(fileName, source).map((f) => `${f.line}:${f.column} ${f.rule}`)

// One planted example of every rule and alias form, see the comments in the fixture files.
const planted = [
  "callbacks.tsx:8:blocking-fs", // Effect.sync(() => readFileSync(...))
  "callbacks.tsx:10:blocking-fs", // Effect.try({ try: () => readFileSync(...) })
  "callbacks.tsx:13:blocking-fs", // a named helper the body calls
  "callbacks.tsx:17:blocking-fs", // Effect.sync(() => readFileSync(...)) at the top level
  "callbacks.tsx:20:blocking-fs", // Effect.map((path) => readFileSync(path)) in a pipe
  "child-process.js:6:blocking-child-process", // const { execSync } = require("child_process")
  "child-process.js:7:blocking-child-process", // const cp = require("node:child_process"); cp.spawnSync
  "child-process.js:10:blocking-child-process", // async arrow
  "crypto-zlib.ts:9:blocking-crypto", // pbkdf2Sync (named)
  "crypto-zlib.ts:10:blocking-crypto", // scryptSync (named)
  "crypto-zlib.ts:12:blocking-crypto", // crypto.randomFillSync (namespace)
  "crypto-zlib.ts:13:blocking-crypto", // crypto.generateKeyPairSync
  "crypto-zlib.ts:18:blocking-zlib", // gzipSync as gz
  "crypto-zlib.ts:19:blocking-zlib", // zlib.inflateSync (default import)
  "floating.ts:10:floating-promise", // an async function of the file
  "floating.ts:11:floating-promise", // fetch
  "floating.ts:12:floating-promise", // fs.promises.readFile
  "floating.ts:13:floating-promise", // .then(onFulfilled)
  "floating.ts:17:floating-promise", // Effect.runPromise in Effect code
  "fs-named.ts:6:blocking-fs", // readFileSync
  "fs-named.ts:7:blocking-fs", // writeFileSync as write
  "fs-namespace.ts:10:blocking-fs", // fs.existsSync in Effect.fn
  "fs-namespace.ts:15:blocking-fs", // default import, in Effect.fnUntraced
  "fs-namespace.ts:19:blocking-fs", // const { mkdirSync } = fs, in an async function
  "orphans.ts:8:orphaned-fiber", // yield* Effect.forkDetach(worker)
  "orphans.ts:9:orphaned-fiber", // yield* worker.pipe(Effect.forkChild)
  "orphans.ts:10:orphaned-fiber", // yield* worker.pipe(Effect.forkChild({ ... }))
  "orphans.ts:11:orphaned-fiber", // import * as E from "effect/Effect"
  "orphans.ts:12:orphaned-fiber", // Effect.runFork as a statement
  "waits.mts:7:atomics-wait",
  "waits.mts:9:busy-wait", // while
  "waits.mts:18:busy-wait", // for
  "waits.mts:19:busy-wait" // do-while
]

const run = <A, E, R extends NodeServices.NodeServices>(effect: Effect.Effect<A, E, R>) =>
  Effect.provide(effect, NodeServices.layer)

describe("Scan.scan", () => {
  it.effect("finds exactly the planted example of every rule", () =>
    run(Effect.gen(function*() {
      const report = yield* Scan.scan([dirty])
      expect(keys(dirty, report.findings)).toStrictEqual(planted)
      expect(report.filesScanned).toBe(8)
      expect(new Set(report.findings.map((f) => f.rule))).toStrictEqual(new Set(Scan.ruleIds))
    })))

  it.effect("reports the position, call text, context and fix of a finding", () =>
    run(Effect.gen(function*() {
      const report = yield* Scan.scan([nodePath.join(dirty, "fs-named.ts")])
      expect(report.findings).toStrictEqual([
        {
          file: nodePath.join(dirty, "fs-named.ts"),
          line: 6,
          column: 16,
          rule: "blocking-fs",
          call: `readFileSync("in.txt", "utf8")`,
          context: "effect",
          fix: "use FileSystem.readFile (effect), or Effect.tryPromise(() => fs.promises.readFile(...))"
        },
        {
          file: nodePath.join(dirty, "fs-named.ts"),
          line: 7,
          column: 3,
          rule: "blocking-fs",
          call: `write("out.txt", text)`,
          context: "effect",
          fix: "use FileSystem.writeFile (effect), or Effect.tryPromise(() => fs.promises.writeFile(...))"
        }
      ])
    })))

  it.effect("finds nothing in the near-misses", () =>
    run(Effect.gen(function*() {
      const report = yield* Scan.scan([clean])
      expect(report.findings).toStrictEqual([])
      expect(report.filesScanned).toBe(3)
    })))

  it.effect("the toolkit's own sources scan clean", () =>
    run(Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const names = yield* fs.readDirectory(packagesDir)
      const sources: Array<string> = []
      for (const name of names.toSorted()) {
        const src = nodePath.join(packagesDir, name, "src")
        if (yield* fs.exists(src)) sources.push(src)
      }
      expect(sources.length).toBeGreaterThanOrEqual(3)
      const report = yield* Scan.scan(sources)
      expect(report.filesScanned).toBeGreaterThan(20)
      expect(Scan.formatText(report.findings)).toBe("no problems found")
    })))

  it.effect("only the rules asked for", () =>
    run(Effect.gen(function*() {
      const report = yield* Scan.scan([dirty], { rules: ["busy-wait", "atomics-wait"] })
      expect(keys(dirty, report.findings)).toStrictEqual([
        "waits.mts:7:atomics-wait",
        "waits.mts:9:busy-wait",
        "waits.mts:18:busy-wait",
        "waits.mts:19:busy-wait"
      ])
    })))

  it.effect("walks directories in order, skipping node_modules, dist, declaration files and other extensions", () =>
    run(Effect.scoped(Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const blocking = `import * as fs from "node:fs"\nexport async function f() { fs.readFileSync("x") }\n`
      for (const dirName of ["node_modules/pkg", "dist", "src/deep"]) {
        yield* fs.makeDirectory(nodePath.join(dir, dirName), { recursive: true })
      }
      for (
        const file of [
          "node_modules/pkg/index.ts",
          "dist/index.js",
          "src/types.d.ts",
          "src/notes.md",
          "src/b.ts",
          "src/a.cjs",
          "src/deep/c.jsx"
        ]
      ) {
        yield* fs.writeFileString(nodePath.join(dir, file), blocking)
      }
      // A symlink cycle and a dangling symlink neither loop nor fail.
      yield* fs.symlink(dir, nodePath.join(dir, "src/deep/loop"))
      yield* fs.symlink(nodePath.join(dir, "missing"), nodePath.join(dir, "src/dangling.ts"))
      const report = yield* Scan.scan([dir, nodePath.join(dir, "src/b.ts")])
      expect(keys(dir, report.findings)).toStrictEqual([
        "src/a.cjs:2:blocking-fs",
        "src/b.ts:2:blocking-fs",
        "src/deep/c.jsx:2:blocking-fs"
      ])
      expect(report.filesScanned).toBe(3)
    }))))

  it.effect("a path with nothing it scans fails with NothingToScanError instead of reporting a clean 0 files", () =>
    run(Effect.scoped(Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      yield* fs.makeDirectory(nodePath.join(dir, "app/node_modules/pkg"), { recursive: true })
      yield* fs.makeDirectory(nodePath.join(dir, "app/dist"), { recursive: true })
      yield* fs.writeFileString(nodePath.join(dir, "app/node_modules/pkg/index.ts"), "export {}\n")
      yield* fs.writeFileString(nodePath.join(dir, "app/dist/index.js"), "export {}\n")
      yield* fs.writeFileString(nodePath.join(dir, "notes.md"), "# notes\n")
      const skipped = yield* Effect.flip(Scan.scan([nodePath.join(dir, "app")]))
      expect(skipped).toBeInstanceOf(Scan.NothingToScanError)
      expect(skipped.message).toBe(
        `nothing to scan in ${nodePath.join(dir, "app")}: no JavaScript or TypeScript files outside node_modules, ` +
          "dist, .git (skipped; name a directory inside them to scan it)"
      )
      const notCode = yield* Effect.flip(Scan.scan([nodePath.join(dir, "notes.md")]))
      expect(notCode.message).toMatch(/^nothing to scan in .*notes\.md: not a JavaScript or TypeScript file/)
      // named directly, a directory under node_modules is scanned
      const named = yield* Scan.scan([nodePath.join(dir, "app/node_modules/pkg")])
      expect(named.filesScanned).toBe(1)
    }))))

  it.effect("a file with a syntax error is reported as not parsed, and not counted as scanned", () =>
    run(Effect.scoped(Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      yield* fs.writeFileString(nodePath.join(dir, "good.ts"), "export const x = 1\n")
      yield* fs.writeFileString(nodePath.join(dir, "broken.ts"), "export const x = (\n")
      const report = yield* Scan.scan([dir])
      expect(report.filesScanned).toBe(1)
      expect(report.unparsable).toStrictEqual([
        { file: nodePath.join(dir, "broken.ts"), line: 1, column: 19, message: "Expression expected." }
      ])
      expect(Scan.formatText(report).split("\n")).toStrictEqual([
        `${nodePath.join(dir, "broken.ts")}:1:19 syntax error: Expression expected. (not scanned)`,
        "no problems found, 1 file scanned, 1 file not parsed (syntax errors)"
      ])
    }))))

  it.effect("a missing path fails with PathNotFoundError", () =>
    run(Effect.gen(function*() {
      const missing = nodePath.join(fixtures, "no-such-dir")
      const error = yield* Effect.flip(Scan.scan([clean, missing]))
      expect(error).toBeInstanceOf(Scan.PathNotFoundError)
      expect(error.message).toBe(`path not found: ${missing}`)
    })))

  it.effect("can be interrupted while it reads files", () =>
    run(Effect.gen(function*() {
      const effectSources = fileURLToPath(new URL("../node_modules/effect/src", import.meta.url))
      const fiber = yield* Effect.forkChild(Scan.scan([effectSources]), { startImmediately: true })
      yield* Fiber.interrupt(fiber)
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)).toBe(true)
    })))

  it.effect("bad options fail with InvalidOptionError", () =>
    run(Effect.gen(function*() {
      for (
        const options of [
          { concurrency: 0 },
          { concurrency: 1.5 },
          { concurrency: Number.NaN },
          { rules: [] },
          { rules: ["no-such-rule" as Scan.RuleId] }
        ]
      ) {
        const error = yield* Effect.flip(Scan.scan([clean], options))
        expect(error).toBeInstanceOf(InvalidOptionError)
      }
    })))
})

describe("Scan.analyze", () => {
  it("an empty file has no findings", () => {
    expect(check("")).toStrictEqual([])
  })

  it("follows import-equals, dynamic import, element access and globalThis forms", () => {
    const source = [
      `import fs = require("fs")`,
      `import { Effect as E } from "effect"`,
      `export const a = E.gen(function*() { fs["readFileSync"]("x") })`,
      `export async function b() {`,
      `  const zlib = await import("node:zlib")`,
      `  zlib.deflateSync(Buffer.alloc(1))`,
      `  globalThis.Atomics.wait(new Int32Array(4), 0, 0, 1)`,
      `  require("node:child_process").execSync("ls")`,
      `}`
    ].join("\n")
    expect(check(source)).toStrictEqual([
      "3:38 blocking-fs",
      "6:3 blocking-zlib",
      "7:3 atomics-wait",
      "8:3 blocking-child-process"
    ])
  })

  it("recognises Effect.gen with a this argument, Effect.fn with options, and fork as the last pipe step", () => {
    const source = [
      `import { Effect } from "effect"`,
      `import { pipe } from "effect/Function"`,
      `import * as fs from "node:fs"`,
      `export const a = Effect.gen({ self: 1 }, function*() { fs.statSync("x") })`,
      `export const b = Effect.fn("b", { attributes: {} })(function*() { fs.statSync("x") })`,
      `export const c = Effect.gen(function*() { yield* pipe(Effect.void, Effect.forkDetach) })`
    ].join("\n")
    expect(check(source)).toStrictEqual(["4:56 blocking-fs", "5:67 blocking-fs", "6:43 orphaned-fiber"])
  })

  it("a helper defined in an Effect body is reported only when the body calls it", () => {
    const source = [
      `import { Effect } from "effect"`,
      `import { readFileSync } from "node:fs"`,
      `export const a = Effect.gen(function*() {`,
      `  function later() { return readFileSync("a") }`,
      `  const called = () => readFileSync("b")`,
      `  const uncalled = function() { return readFileSync("c") }`,
      `  return [later, called(), uncalled]`,
      `})`
    ].join("\n")
    expect(check(source)).toStrictEqual(["5:24 blocking-fs"])
  })

  it("plain generators, sync callbacks at the top level and look-alike modules are not Effect code", () => {
    const source = [
      `import { readFileSync } from "./my-fs.ts"`,
      `import * as fs from "node:fs"`,
      `function* plain() { yield fs.readFileSync("a") }`,
      `export const lines = ["a"].map((f) => fs.readFileSync(f))`,
      `export async function f() { readFileSync("x") }`,
      `export { plain }`
    ].join("\n")
    expect(check(source)).toStrictEqual([])
  })

  it("Effect.runFork is reported on a fiber (array callbacks included), not in a Node event callback", () => {
    const source = [
      `import { Effect } from "effect"`,
      `export const a = Effect.gen(function*() { [1].forEach(() => { Effect.runFork(Effect.void) }) })`,
      `export const b = Effect.sync(() => { process.on("exit", () => { Effect.runFork(Effect.void) }) })`,
      `export const c = Effect.sync(() => { Effect.runFork(Effect.void) })`,
      `Effect.runFork(Effect.void)`
    ].join("\n")
    expect(check(source)).toStrictEqual(["2:63 orphaned-fiber", "4:38 orphaned-fiber"])
  })

  it("a local declaration hides an import or a global of the same name", () => {
    const source = [
      `import { Effect } from "effect"`,
      `import { readFileSync } from "node:fs"`,
      `import * as cp from "node:child_process"`,
      `export async function f(readFileSync: (p: string) => string) { readFileSync("a") }`,
      `export async function g() {`,
      `  for (const cp of [{ execSync: () => 1 }]) cp.execSync()`,
      `  const Atomics = { wait: () => 1 }`,
      `  Atomics.wait()`,
      `  try { cp.execSync("ls") } catch (fetch) { fetch() }`,
      `}`,
      `export const h = Effect.gen(function*() { const Date = { now: () => 1 }; while (Date.now() < 2) {} })`
    ].join("\n")
    expect(check(source)).toStrictEqual(["9:9 blocking-child-process"])
  })

  it("a busy loop needs a clock call in its condition and a body with no call, await or yield", () => {
    const source = [
      `export async function f(end: number, work: () => void) {`,
      `  while (Date.now() < end) work()`,
      `  while (end > 0) {}`,
      `  for (let i = 0; i < 10; i++) {}`,
      `  while (performance.now() < end) { end-- }`,
      `}`
    ].join("\n")
    expect(check(source)).toStrictEqual(["5:3 busy-wait"])
  })

  it("keeps only the rules asked for", () => {
    const source = `import * as fs from "node:fs"\nexport async function f() { fs.readFileSync("x"); fetch("y") }`
    expect(Scan.analyze("a.ts", source, ["floating-promise"]).map((f) => f.rule)).toStrictEqual([
      "floating-promise"
    ])
  })
})

describe("Scan.formatText / Scan.toJson", () => {
  const finding: Scan.Finding = {
    file: "src/a.ts",
    line: 3,
    column: 5,
    rule: "blocking-fs",
    call: `readFileSync("x")`,
    context: "async",
    fix: "use FileSystem.readFile"
  }
  const report: Scan.Report = {
    findings: [finding, { ...finding, line: 9, rule: "orphaned-fiber", call: "yield* Effect.forkDetach(w)" }],
    filesScanned: 4,
    unparsable: []
  }

  it("one line per finding and a summary line", () => {
    expect(Scan.formatText(report).split("\n")).toStrictEqual([
      `src/a.ts:3:5 blocking-fs readFileSync("x") → use FileSystem.readFile`,
      `src/a.ts:9:5 orphaned-fiber yield* Effect.forkDetach(w) → use FileSystem.readFile`,
      "2 problems (1 blocking-fs, 1 orphaned-fiber) in 1 file, 4 files scanned"
    ])
    expect(Scan.formatText([finding])).toBe(
      `src/a.ts:3:5 blocking-fs readFileSync("x") → use FileSystem.readFile\n1 problem (1 blocking-fs) in 1 file`
    )
    expect(Scan.formatText({ findings: [], filesScanned: 1, unparsable: [] })).toBe("no problems found, 1 file scanned")
  })

  it("the JSON output parses back to the findings and a summary", () => {
    expect(JSON.parse(Scan.formatJson(report))).toStrictEqual({
      findings: report.findings,
      unparsable: [],
      summary: {
        filesScanned: 4,
        filesNotParsed: 0,
        problems: 2,
        filesWithProblems: 1,
        byRule: { "blocking-fs": 1, "orphaned-fiber": 1 }
      }
    })
  })
})

describe("Scan.command", () => {
  const runScan = Command.runWith(Scan.command, { version: "0.0.0" })

  it.effect("--json prints the report as JSON and fails with exit code 1 when anything is found", () =>
    run(Effect.gen(function*() {
      const exit = yield* Effect.exit(runScan([dirty, "--json"]))
      const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
      expect(error?._tag === "Fail" && error.error).toStrictEqual(
        new Scan.ScanExitError({
          exitCode: 1,
          reason:
            "33 problems (10 blocking-fs, 3 blocking-child-process, 4 blocking-crypto, 2 blocking-zlib, 1 atomics-wait, " +
            "3 busy-wait, 5 orphaned-fiber, 5 floating-promise) in 8 files, 8 files scanned"
        })
      )
      const lines = yield* TestConsole.logLines
      expect(lines.length).toBe(1)
      const parsed = JSON.parse(String(lines[0]))
      const direct = yield* Scan.scan([dirty])
      expect(parsed).toStrictEqual(Scan.toJson(direct))
    })))

  it.effect("a clean scan prints the summary and succeeds", () =>
    run(Effect.gen(function*() {
      yield* runScan([clean])
      expect(yield* TestConsole.logLines).toStrictEqual(["no problems found, 3 files scanned"])
      expect(yield* TestConsole.errorLines).toStrictEqual([])
    })))

  it.effect("a missing path prints one line on stderr and fails with exit code 2", () =>
    run(Effect.gen(function*() {
      const missing = nodePath.join(fixtures, "no-such-dir")
      const error = yield* Effect.flip(runScan([missing]))
      expect(error).toStrictEqual(
        new Scan.ScanExitError({ exitCode: 2, reason: `path not found: ${missing}` })
      )
      expect(yield* TestConsole.errorLines).toStrictEqual([`async-ops scan: path not found: ${missing}`])
      expect(yield* TestConsole.logLines).toStrictEqual([])
    })))
})
