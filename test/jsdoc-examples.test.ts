/**
 * Every `@example` in the public modules of every package type-checks against the workspace, as Effect's docgen
 * checks its examples: each block is written to a file under `test/.jsdoc-examples/` (so `@async-ops/*` and `effect`
 * resolve exactly as they do for a user of the packages) and one TypeScript program checks them all.
 */
import { describe, expect, it } from "@effect/vitest"
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const outDir = join(root, "test", ".jsdoc-examples")

/** One fenced example: where it starts in its source file (1-based line of its first code line) and its code. */
interface Example {
  readonly file: string
  readonly line: number
  readonly code: string
}

/** The public modules of a package (`internal/` holds no user-facing examples). */
const publicFiles = (pkg: string): Array<string> =>
  readdirSync(join(root, "packages", pkg, "src"))
    .filter((f) => f.endsWith(".ts") && f !== "index.ts" && f !== "bin.ts")
    .toSorted()
    .map((f) => join(root, "packages", pkg, "src", f))

/** Extracts the fenced code of every `@example` tag in a file's JSDoc comments. */
const extractExamples = (file: string, text: string): Array<Example> => {
  const lines = text.split("\n")
  const examples: Array<Example> = []
  let inExample = false
  let fence: { readonly line: number; readonly code: Array<string> } | undefined
  lines.forEach((raw, index) => {
    const line = raw.replace(/^\s*\*( |$)/, "")
    if (fence !== undefined) {
      if (/^\s*```\s*$/.test(line)) {
        examples.push({ file, line: fence.line, code: fence.code.join("\n") })
        fence = undefined
        inExample = false
      } else {
        fence.code.push(line)
      }
    } else if (/^\s*\*?\s*@example\b/.test(raw)) {
      inExample = true
    } else if (inExample && /^\s*```(ts|typescript)?\s*$/.test(line)) {
      fence = { line: index + 2, code: [] }
    } else if (inExample && /(^\s*\*\/)|(^\s*\*?\s*@\w+)/.test(raw)) {
      inExample = false
    }
  })
  return examples
}

const packages = readdirSync(join(root, "packages")).toSorted()
const examples = packages.flatMap((pkg) =>
  publicFiles(pkg).flatMap((file) => extractExamples(relative(root, file), readFileSync(file, "utf8")))
)

describe("JSDoc examples", () => {
  it("the extractor finds each fenced block of an @example tag, with the line it starts on", () => {
    const text = [
      "/**",
      " * Summary.",
      " *",
      " * @example",
      " * ```ts",
      " * const a = 1",
      " *   + 2",
      " * ```",
      " *",
      " * @since 0.1.0",
      " */",
      "/** ```ts not an example``` */"
    ].join("\n")
    expect(extractExamples("x.ts", text)).toEqual([{ file: "x.ts", line: 6, code: "const a = 1\n  + 2" }])
  })

  it("every package's public modules have examples to check", () => {
    for (const pkg of packages) expect(examples.some((e) => e.file.startsWith(`packages/${pkg}/`))).toBe(true)
  })

  it("every @example type-checks against the workspace (one program for all of them)", () => {
    rmSync(outDir, { recursive: true, force: true })
    mkdirSync(outDir, { recursive: true })
    const written = new Map<string, Example>()
    examples.forEach((example, i) => {
      const name = `${example.file.replace(/[/\\.]/g, "_")}_L${example.line}_${i}.ts`
      const path = join(outDir, name)
      writeFileSync(path, example.code + "\n")
      written.set(path, example)
    })
    // the files are removed whatever happens: test/tsconfig.json includes every .ts file below test/
    let failures: Array<string>
    try {
      const configPath = join(root, "test", "tsconfig.json")
      const config = ts.getParsedCommandLineOfConfigFile(configPath, {}, {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (d) => {
          throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"))
        }
      })
      if (config === undefined) throw new Error(`cannot read ${configPath}`)
      const options: ts.CompilerOptions = {
        ...config.options,
        noEmit: true,
        composite: false,
        incremental: false,
        declaration: false,
        declarationMap: false,
        sourceMap: false,
        skipLibCheck: true
      }
      const program = ts.createProgram({ rootNames: [...written.keys()], options })
      failures = ts.getPreEmitDiagnostics(program).flatMap((d) => {
        const example = d.file === undefined ? undefined : written.get(d.file.fileName)
        if (d.file === undefined || example === undefined) {
          // a diagnostic outside an example (e.g. in a package's source) is reported as it is
          return [
            ts.formatDiagnostic(d, {
              getCanonicalFileName: (f) => f,
              getCurrentDirectory: () => root,
              getNewLine: () => "\n"
            })
          ]
        }
        const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0)
        return [`${example.file}:${example.line + line}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`]
      })
    } finally {
      rmSync(outDir, { recursive: true, force: true })
    }
    expect(failures).toEqual([])
  }, 120_000)
})
