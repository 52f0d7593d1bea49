/**
 * `async-ops scan`: a static check for calls that block the event loop inside Effect and async code, and for
 * fibers started and then dropped. It answers the seed's `find-blocking-calls.sh` (which greps for `time.sleep`,
 * `requests`, `open()` and `subprocess.run` after an `async def`) and asyncio's "never block the event loop"
 * warning, for TypeScript: each file is parsed with the TypeScript compiler API (no type checker, no regular
 * expressions), so aliases (`import { readFileSync as read } from "node:fs"`, `import * as fs`,
 * `const { execSync } = require("child_process")`) are followed and comments or strings never match.
 *
 * What is reported, only in Effect code (an `Effect.gen` generator, an `Effect.fn` / `Effect.fnUntraced` body, or
 * a callback passed straight to an `Effect.*` call such as `Effect.sync(() => ...)` or `Effect.map((a) => ...)`)
 * or in an `async` function; synchronous code at the top level or in plain functions is start-up code, where
 * blocking is fine, as in the seed:
 *
 * - `blocking-fs`, `blocking-child-process`, `blocking-crypto`, `blocking-zlib`: any `*Sync` export of
 *   `node:fs` (also `fs-extra`, `graceful-fs`), `node:child_process`, `node:crypto` or `node:zlib`.
 * - `atomics-wait`: `Atomics.wait` (the JavaScript `time.sleep`).
 * - `busy-wait`: a `while` / `do` / `for` loop whose condition calls `Date.now()` or `performance.now()` and whose
 *   body makes no call, `new`, `await` or `yield`.
 * - `orphaned-fiber`: `yield* Effect.forkDetach(...)` / `forkChild` / `fork` / `forkDaemon` (data-first, or last in
 *   a `pipe`) as a statement, so the handle is dropped; and `Effect.runFork(...)` as a statement on a fiber (in
 *   Effect code, or an array method's callback there; not in a callback a Node API calls later, such as
 *   `emitter.on(...)`, where `runFork` is the usual bridge). `forkScoped` and `forkIn` are not reported: a scope
 *   owns those fibers.
 * - `floating-promise`: a statement that calls an `async` function declared in the same file, `fetch`,
 *   `fs.promises.*`, `Effect.runPromise`, or `.then(onFulfilled)` / `.finally(...)`, without `await` or `void`.
 *
 * Functions nested in an Effect or async body: an inline callback (an argument of a call, or a property of an
 * object literal argument: `Effect.sync(() => ...)`, `Effect.try({ try: () => ... })`, `items.map(...)`) runs on
 * the event loop during the body, so it is checked like the body, unless it is passed to a worker
 * (`new Worker(...)`, or a callee whose name contains `offload`). A named helper (`function read() {}`,
 * `const read = () => ...`) is checked like the body only if the body calls it by name; otherwise it may be
 * meant for start-up or a worker, and is not reported.
 *
 * @see `examples/01-core/blocking.ts` (what a blocked loop costs, and the fixes)
 * @see https://docs.python.org/3/library/asyncio-dev.html#running-blocking-code
 * @since 0.1.0
 */
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as FileSystem from "effect/FileSystem"
import type * as Path from "effect/Path"
import * as Runtime from "effect/Runtime"
import { command as commandDefinition } from "./internal/command/scan.ts"
import * as internal from "./internal/scan.ts"

/**
 * A rule's id: what kind of problem a finding is.
 *
 * @category models
 * @since 0.1.0
 */
export type RuleId =
  | "blocking-fs"
  | "blocking-child-process"
  | "blocking-crypto"
  | "blocking-zlib"
  | "atomics-wait"
  | "busy-wait"
  | "orphaned-fiber"
  | "floating-promise"

/**
 * Every rule id, in report order.
 *
 * @example
 * ```ts
 * import { Scan } from "@async-ops/cli"
 *
 * Scan.ruleIds.includes("busy-wait") // true
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const ruleIds: ReadonlyArray<RuleId> = internal.ruleIds

/**
 * What each rule reports, in one line (for help texts and docs).
 *
 * @example
 * ```ts
 * import { Scan } from "@async-ops/cli"
 *
 * Scan.rules["atomics-wait"] // "Atomics.wait, which parks the event-loop thread"
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const rules: { readonly [K in RuleId]: string } = internal.ruleDescriptions

/**
 * Where a finding was made: an Effect body (`Effect.gen`, `Effect.fn`) or an `async` function.
 *
 * @category models
 * @since 0.1.0
 */
export type FindingContext = "effect" | "async"

/**
 * One problem found by the scan.
 *
 * @category models
 * @since 0.1.0
 */
export interface Finding {
  /** The file, as walked from the path given (relative paths stay relative). */
  readonly file: string
  /** 1-based line of the call (or of the `yield*`, or of the loop). */
  readonly line: number
  /** 1-based column, in UTF-16 code units. */
  readonly column: number
  readonly rule: RuleId
  /** The source of the call on one line, shortened to 100 characters. */
  readonly call: string
  readonly context: FindingContext
  /** What to do instead. */
  readonly fix: string
}

/**
 * A file that could not be parsed (a syntax error): it is not scanned, and not counted in `filesScanned`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Unparsable {
  readonly file: string
  /** 1-based line and column of the first syntax error. */
  readonly line: number
  readonly column: number
  /** The parser's message. */
  readonly message: string
}

/**
 * The result of {@link scan}: the findings (sorted by file, line and column), how many files were parsed and
 * scanned, and the files that could not be parsed.
 *
 * @category models
 * @since 0.1.0
 */
export interface Report {
  readonly findings: ReadonlyArray<Finding>
  readonly filesScanned: number
  /** Files with a syntax error, which were not scanned (the `scan` command then exits 2: the scan is incomplete). */
  readonly unparsable: ReadonlyArray<Unparsable>
}

/**
 * Options of {@link scan}.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** Only these rules (a non-empty list of {@link RuleId}). Default: every rule. */
  readonly rules?: ReadonlyArray<RuleId> | undefined
  /** Files read at once: an integer >= 1. Default: 8. */
  readonly concurrency?: number | undefined
}

/**
 * A path given to {@link scan} does not exist.
 *
 * **When to use**: match it to tell the user; the `scan` command prints its message on one line and exits 2.
 *
 * @category errors
 * @since 0.1.0
 */
export class PathNotFoundError extends Data.TaggedError("PathNotFoundError")<{
  readonly path: string
}> {
  /** Exit code 2 when it ends a `runMain` program. */
  override readonly [Runtime.errorExitCode] = 2
  override get message(): string {
    return `path not found: ${this.path}`
  }
}

/**
 * A path given to {@link scan} holds no file it scans: a file that is not JavaScript or TypeScript (or is a
 * declaration file), or a directory whose scannable files are all under `node_modules`, `dist` or `.git`, which
 * the walk skips. Scanning nothing and reporting "no problems" would read as a clean bill of health.
 *
 * **When to use**: match it to tell the user; the `scan` command prints its message on one line and exits 2.
 *
 * @category errors
 * @since 0.1.0
 */
export class NothingToScanError extends Data.TaggedError("NothingToScanError")<{
  readonly path: string
  /** Why nothing was found there, in a few words. */
  readonly reason: string
}> {
  /** Exit code 2 when it ends a `runMain` program. */
  override readonly [Runtime.errorExitCode] = 2
  override get message(): string {
    return `nothing to scan in ${this.path}: ${this.reason}`
  }
}

/**
 * A file or directory could not be read (permissions, an I/O error).
 *
 * @category errors
 * @since 0.1.0
 */
export class FileReadError extends Data.TaggedError("FileReadError")<{
  readonly path: string
  /** The system's message. */
  readonly reason: string
}> {
  /** Exit code 2 when it ends a `runMain` program. */
  override readonly [Runtime.errorExitCode] = 2
  override get message(): string {
    return `cannot read ${this.path}: ${this.reason}`
  }
}

/**
 * The `scan` command's way to end with a non-zero exit code: 1 when problems were found (the report is already
 * printed), 2 when a path is missing or unreadable (a one-line message is already on stderr). It is marked as
 * reported, so `NodeRuntime.runMain` exits with `exitCode` without logging it again.
 *
 * **When to use**: match it when you run {@link command} inside a larger program and want the outcome without
 * ending the process (`Effect.catchTag("ScanExitError", (e) => ...)`).
 *
 * @category errors
 * @since 0.1.0
 */
export class ScanExitError extends Data.TaggedError("ScanExitError")<{
  readonly exitCode: 1 | 2
  /** What happened, in one line. */
  readonly reason: string
}> {
  /** Already printed by the command. */
  override readonly [Runtime.errorReported] = false
  override get [Runtime.errorExitCode](): number {
    return this.exitCode
  }
  override get message(): string {
    return this.reason
  }
}

/**
 * Checks one source text (no file access): the findings in `fileName` (used for the script kind: `.tsx`, `.js`...,
 * and copied into each finding), sorted by line and column.
 *
 * **When to use**: in an editor integration, a test, or a lint step that already has the text.
 *
 * @example
 * ```ts
 * import { Scan } from "@async-ops/cli"
 *
 * const findings = Scan.analyze(
 *   "job.ts",
 *   `import { Effect } from "effect"
 * import * as fs from "node:fs"
 * export const job = Effect.gen(function*() {
 *   return fs.readFileSync("config.json", "utf8")
 * })`
 * )
 * findings.map((f) => `${f.line}:${f.column} ${f.rule}`) // ["4:10 blocking-fs"]
 * ```
 *
 * @category analysis
 * @since 0.1.0
 */
export const analyze = (fileName: string, sourceText: string, rules?: ReadonlyArray<RuleId>): Array<Finding> =>
  internal.analyze(fileName, sourceText, new Set(rules ?? internal.ruleIds))

/**
 * Scans files and directories (recursively; skipping `node_modules`, `dist`, `.git` and declaration files) for
 * `.ts`, `.tsx`, `.mts`, `.cts`, `.js`, `.jsx`, `.mjs` and `.cjs` sources, and reports the problems described in
 * the module overview. No paths means the current directory.
 *
 * **When to use**: in CI or a pre-commit step (through the `async-ops scan` command), or in a test that asserts a
 * code base stays clean.
 *
 * **Gotchas**: the check is syntactic. A call through a value it cannot trace (a function passed around, a
 * re-export of `readFileSync` from a module of your own, a callback defined at the top level and handed to
 * `Effect.sync`) is missed. A parameter, variable, function or class declared in an enclosing block hides an
 * import of the same name, as in JavaScript. `forkChild` counts as dropped when its handle is unused, although the
 * fiber ends with its parent: in a layer's or a request's body that is usually too early, and a bug. Fails with
 * `PathNotFoundError` for a missing path, `FileReadError` for an unreadable one, and `InvalidOptionError` for a bad
 * option.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { NodeServices } from "@effect/platform-node"
 * import { Scan } from "@async-ops/cli"
 *
 * const program = Effect.gen(function*() {
 *   const report = yield* Scan.scan(["src"])
 *   yield* Effect.log(Scan.formatText(report))
 * }).pipe(Effect.provide(NodeServices.layer))
 * ```
 *
 * @category scanning
 * @since 0.1.0
 */
export const scan: (
  paths: ReadonlyArray<string>,
  options?: Options
) => Effect.Effect<
  Report,
  PathNotFoundError | FileReadError | NothingToScanError | InvalidOptionError,
  FileSystem.FileSystem | Path.Path
> = internal.scan

/**
 * Formats findings as text: one `file:line:column rule call → fix` line per finding, then a summary line
 * (`2 problems (1 blocking-fs, 1 orphaned-fiber) in 1 file, 12 files scanned`, or `no problems found, ...`).
 * Given a bare list of findings, the summary leaves out the number of files scanned.
 *
 * @example
 * ```ts
 * import { Scan } from "@async-ops/cli"
 *
 * Scan.formatText({ findings: [], filesScanned: 3, unparsable: [] }) // => "no problems found, 3 files scanned"
 * ```
 *
 * @category formatting
 * @since 0.1.0
 */
export const formatText: (input: Report | ReadonlyArray<Finding>) => string = internal.formatText

/**
 * The `--json` output as a value: `{ findings, summary: { filesScanned, problems, filesWithProblems, byRule } }`,
 * where `findings` are {@link Finding} records and `byRule` counts the findings of each rule that has any.
 *
 * @example
 * ```ts
 * import { Scan } from "@async-ops/cli"
 *
 * Scan.toJson({ findings: [], filesScanned: 3, unparsable: [] }).summary
 * // { filesScanned: 3, filesNotParsed: 0, problems: 0, filesWithProblems: 0, byRule: {} }
 * ```
 *
 * @category formatting
 * @since 0.1.0
 */
export const toJson: (report: Report) => {
  readonly findings: ReadonlyArray<Finding>
  readonly unparsable: ReadonlyArray<Unparsable>
  readonly summary: {
    readonly filesScanned: number
    readonly filesNotParsed: number
    readonly problems: number
    readonly filesWithProblems: number
    readonly byRule: Partial<Record<RuleId, number>>
  }
} = internal.toJson

/**
 * {@link toJson} as a string (indented by two spaces): what `async-ops scan --json` prints.
 *
 * @example
 * ```ts
 * import { Scan } from "@async-ops/cli"
 *
 * JSON.parse(Scan.formatJson({ findings: [], filesScanned: 0, unparsable: [] })).summary.problems // 0
 * ```
 *
 * @category formatting
 * @since 0.1.0
 */
export const formatJson: (report: Report) => string = internal.formatJson

/**
 * The `scan` command: `scan [paths...] [--json]` (paths default to `.`). Prints the text report (or the JSON
 * report with `--json`) on stdout, and ends with exit code 0 when nothing is found, 1 when anything is found, and
 * 2 with a one-line `async-ops scan: path not found: x` on stderr for a missing or unreadable path (through
 * {@link ScanExitError}, which `NodeRuntime.runMain` turns into the exit code without a stack trace).
 *
 * **When to use**: add it as a subcommand (`Command.withSubcommands([Scan.command])`), or run it on its own.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Command } from "effect/cli"
 * import { NodeRuntime, NodeServices } from "@effect/platform-node"
 * import { Scan } from "@async-ops/cli"
 *
 * Scan.command.pipe(
 *   Command.run({ version: "0.1.0" }),
 *   Effect.provide(NodeServices.layer),
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * @category commands
 * @since 0.1.0
 */
export const command: typeof commandDefinition = commandDefinition
