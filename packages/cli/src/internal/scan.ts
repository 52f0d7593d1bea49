/** @internal */
import { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Path from "effect/Path"
import type { Finding, Options, Report, RuleId, Unparsable } from "../Scan.ts"
import { FileReadError, NothingToScanError, PathNotFoundError, ScanExitError } from "../Scan.ts"
import { analyzeFile } from "./scan/analyze.ts"
import { ruleIds } from "./scan/rules.ts"

export { analyze } from "./scan/analyze.ts"
export { ruleDescriptions, ruleIds } from "./scan/rules.ts"

// ---------------------------------------------------------------------------------------------------------------
// files
// ---------------------------------------------------------------------------------------------------------------

const scannableExtensions = [".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs"]
const declarationExtensions = [".d.ts", ".d.mts", ".d.cts"]
const skippedDirectories = new Set(["node_modules", "dist", ".git"])

const isScannable = (file: string): boolean =>
  scannableExtensions.some((ext) => file.endsWith(ext)) && !declarationExtensions.some((ext) => file.endsWith(ext))

const reasonOf = (error: { readonly message: string }): string => error.message

const collectFiles = (paths: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const files: Array<string> = []
    const seen = new Set<string>()
    const directories = new Set<string>()
    const skipped = new Set<string>()
    let matched = 0

    const walk = (target: string, explicit: boolean): Effect.Effect<void, PathNotFoundError | FileReadError> =>
      Effect.gen(function*() {
        const info = yield* fs.stat(target).pipe(
          Effect.catchTag("PlatformError", (error): Effect.Effect<
            FileSystem.File.Info | undefined,
            PathNotFoundError | FileReadError
          > => {
            if (error.reason._tag === "NotFound") {
              // A dangling entry inside a directory (a broken symlink) is skipped; a missing argument is an error.
              return explicit ? Effect.fail(new PathNotFoundError({ path: target })) : Effect.succeed(undefined)
            }
            return Effect.fail(new FileReadError({ path: target, reason: reasonOf(error) }))
          })
        )
        if (info === undefined) return
        if (info.type === "Directory") {
          const real = yield* fs.realPath(target).pipe(
            Effect.mapError((error) => new FileReadError({ path: target, reason: reasonOf(error) }))
          )
          if (explicit) directories.add(target)
          if (seen.has(real)) return
          seen.add(real)
          const names = yield* fs.readDirectory(target).pipe(
            Effect.mapError((error) => new FileReadError({ path: target, reason: reasonOf(error) }))
          )
          for (const name of names.toSorted()) {
            if (skippedDirectories.has(name)) {
              skipped.add(path.join(target, name))
              continue
            }
            yield* walk(path.join(target, name), false)
          }
        } else if (info.type === "File" && isScannable(target)) {
          matched++
          const resolved = path.resolve(target)
          if (seen.has(resolved)) return
          seen.add(resolved)
          files.push(target)
        }
      })

    for (const target of paths) {
      const before = matched
      const skippedBefore = skipped.size
      yield* walk(target, true)
      if (matched > before) continue
      if (!directories.has(target)) {
        return yield* new NothingToScanError({
          path: target,
          reason: "not a JavaScript or TypeScript file (.ts .tsx .mts .cts .js .jsx .mjs .cjs, not .d.ts)"
        })
      }
      return yield* new NothingToScanError({
        path: target,
        reason: skipped.size > skippedBefore
          ? `no JavaScript or TypeScript files outside ${Array.from(skippedDirectories).join(", ")} ` +
            `(skipped; name a directory inside them to scan it)`
          : "no JavaScript or TypeScript files"
      })
    }
    return files
  })

const validate = (options: Options | undefined): Effect.Effect<
  { readonly rules: ReadonlySet<RuleId>; readonly concurrency: number },
  InvalidOptionError
> => {
  const concurrency = options?.concurrency ?? 8
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    return Effect.fail(
      new InvalidOptionError({
        module: "Scan.scan",
        option: "concurrency",
        expected: "an integer >= 1",
        value: concurrency
      })
    )
  }
  const rules = options?.rules ?? ruleIds
  const unknown = rules.find((rule) => !ruleIds.includes(rule))
  if (unknown !== undefined || rules.length === 0) {
    return Effect.fail(
      new InvalidOptionError({
        module: "Scan.scan",
        option: "rules",
        expected: `a non-empty list of ${ruleIds.join(", ")}`,
        value: rules
      })
    )
  }
  return Effect.succeed({ rules: new Set(rules), concurrency })
}

/** @internal */
export const scan = (
  paths: ReadonlyArray<string>,
  options?: Options
): Effect.Effect<
  Report,
  PathNotFoundError | FileReadError | NothingToScanError | InvalidOptionError,
  FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function*() {
    const { concurrency, rules } = yield* validate(options)
    const fs = yield* FileSystem.FileSystem
    const files = yield* collectFiles(paths.length === 0 ? ["."] : paths)
    const perFile = yield* Effect.forEach(
      files,
      (file) =>
        fs.readFileString(file).pipe(
          Effect.mapError((error) => new FileReadError({ path: file, reason: reasonOf(error) })),
          Effect.map((text) => analyzeFile(file, text, rules))
        ),
      { concurrency }
    )
    const findings: Array<Finding> = []
    const unparsable: Array<Unparsable> = []
    for (const result of perFile) {
      if (Array.isArray(result)) findings.push(...result)
      else unparsable.push(result as Unparsable)
    }
    return { findings, filesScanned: files.length - unparsable.length, unparsable }
  })

// ---------------------------------------------------------------------------------------------------------------
// output
// ---------------------------------------------------------------------------------------------------------------

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

const countByRule = (findings: ReadonlyArray<Finding>): Partial<Record<RuleId, number>> => {
  const counts: Partial<Record<RuleId, number>> = {}
  for (const rule of ruleIds) {
    const n = findings.filter((finding) => finding.rule === rule).length
    if (n > 0) counts[rule] = n
  }
  return counts
}

const summary = (
  findings: ReadonlyArray<Finding>,
  filesScanned: number | undefined,
  unparsable: ReadonlyArray<Unparsable> = []
): string => {
  const scanned = (filesScanned === undefined ? "" : `, ${plural(filesScanned, "file")} scanned`) +
    (unparsable.length === 0 ? "" : `, ${plural(unparsable.length, "file")} not parsed (syntax errors)`)
  if (findings.length === 0) return `no problems found${scanned}`
  const byRule = Object.entries(countByRule(findings)).map(([rule, n]) => `${n} ${rule}`).join(", ")
  const files = new Set(findings.map((finding) => finding.file)).size
  return `${plural(findings.length, "problem")} (${byRule}) in ${plural(files, "file")}${scanned}`
}

const isReport = (input: Report | ReadonlyArray<Finding>): input is Report => "findings" in input

/** @internal */
export const formatText = (input: Report | ReadonlyArray<Finding>): string => {
  const findings = isReport(input) ? input.findings : input
  const unparsable = isReport(input) ? input.unparsable : []
  const lines = findings.map((f) => `${f.file}:${f.line}:${f.column} ${f.rule} ${f.call} → ${f.fix}`)
  for (const u of unparsable) lines.push(`${u.file}:${u.line}:${u.column} syntax error: ${u.message} (not scanned)`)
  lines.push(summary(findings, isReport(input) ? input.filesScanned : undefined, unparsable))
  return lines.join("\n")
}

/** @internal */
export const toJson = (report: Report) => ({
  findings: report.findings,
  unparsable: report.unparsable,
  summary: {
    filesScanned: report.filesScanned,
    filesNotParsed: report.unparsable.length,
    problems: report.findings.length,
    filesWithProblems: new Set(report.findings.map((finding) => finding.file)).size,
    byRule: countByRule(report.findings)
  }
})

/** @internal */
export const formatJson = (report: Report): string => JSON.stringify(toJson(report), null, 2)

// ---------------------------------------------------------------------------------------------------------------
// the command's handler
// ---------------------------------------------------------------------------------------------------------------

/**
 * Waits until everything written to stdout and stderr so far has reached the OS. `NodeRuntime.runMain` ends a failed
 * program with `process.exit(code)`, which drops output still queued for a pipe (anything past 64 KiB).
 */
const flushStdio: Effect.Effect<void> = Effect.callback<void>((resume) => {
  let pending = 2
  const done = () => {
    pending -= 1
    if (pending === 0) resume(Effect.void)
  }
  process.stdout.write("", done)
  process.stderr.write("", done)
})

/** @internal */
export const runCommand = (
  paths: ReadonlyArray<string>,
  json: boolean
): Effect.Effect<void, ScanExitError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const report = yield* scan(paths).pipe(
      Effect.catch((error) =>
        Console.error(`async-ops scan: ${error.message}`).pipe(
          Effect.andThen(flushStdio),
          Effect.andThen(Effect.fail(new ScanExitError({ exitCode: 2, reason: error.message })))
        )
      )
    )
    yield* Console.log(json ? formatJson(report) : formatText(report))
    yield* flushStdio
    if (report.unparsable.length > 0) {
      // an incomplete scan is not a pass, whatever the other files gave
      return yield* new ScanExitError({
        exitCode: 2,
        reason: summary(report.findings, report.filesScanned, report.unparsable)
      })
    }
    if (report.findings.length > 0) {
      return yield* new ScanExitError({ exitCode: 1, reason: summary(report.findings, report.filesScanned) })
    }
  })
