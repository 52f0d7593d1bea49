/**
 * The benchmark harness: runs every system of a workload in a fresh process, in interleaved rounds after a warm-up,
 * and turns the samples into markdown tables, ratios and bar verdicts. `run.ts` is the command line on top of it;
 * the smoke test calls {@link runBench} directly at a tiny size.
 *
 * Method:
 * - Each measurement is one cold run of one system in its own process (`process.execPath <file>` for Node, Python
 *   for asyncio rows), so no system's modules, JIT state or heap leak into another's. The child times only the work
 *   (not start-up or imports) and reports its peak RSS (`maxRSS`, i.e. `VmHWM`); see `runner.ts`.
 * - A round runs every case of a workload once, in a fixed order (A B C, A B C, ...), so slow drift of a shared
 *   machine hits every system alike. One warm-up round (discarded) goes first, to warm the disk cache.
 * - Per case: the median, min and max wall time over the rounds, and the median of the peak RSS.
 * - Each child returns a check value (a sum of its results) that must equal the workload's expected value, so a
 *   system that skips work fails loudly instead of looking fast.
 */
import { spawn, spawnSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import * as os from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { MARKER } from "./runner.ts"

/** The `bench/` directory. */
export const benchDir = dirname(fileURLToPath(import.meta.url))
const coreSrc = join(benchDir, "..", "packages", "core", "src")

// ---------------------------------------------------------------------------------------------------------------
// Definitions

/** What a Python row needs beyond the interpreter: modules to import, and an expression that must be true. */
export interface PythonNeeds {
  readonly imports: ReadonlyArray<string>
  /** A Python expression evaluated after the imports, e.g. `hasattr(asyncio, "TaskGroup")`. */
  readonly assert?: string
  /** What to tell the reader when the check fails. */
  readonly hint?: string
}

/** One system: a runner file under `bench/systems/` and how to show it. */
export interface System {
  /** The row's label, e.g. `"Gather.settle"`. */
  readonly label: string
  /** The runner, relative to `bench/systems/`: a `.ts` file (Node) or a `.py` file (Python). */
  readonly file: string
  /** One of ours (`@async-ops/core`): shown in bold, and the subject of bars. */
  readonly ours?: boolean
  /** `@async-ops/core` modules the runner imports: the row is skipped with a note while one is missing. */
  readonly requires?: ReadonlyArray<string>
  /** For `.py` runners: what the interpreter must provide. */
  readonly python?: PythonNeeds
  /** Run at most this size (a row too slow to run at full size); the row says so. */
  readonly maxSize?: number
  /** Parameters for this system only, merged over the table's. */
  readonly params?: Readonly<Record<string, number>>
  /** A short note shown under the table. */
  readonly note?: string
}

/** One table of systems at one size, each compared with a reference row. */
export interface SystemsTable {
  readonly kind: "systems"
  readonly title: string
  readonly size: number
  readonly params?: Readonly<Record<string, number>>
  /** The check value every system must return at this size. */
  readonly expect: (size: number) => number
  readonly systems: ReadonlyArray<System>
  /** The label of the row the ratio columns compare to (one of ours). */
  readonly reference: string
  /** Add a column with the resident memory each item added, `(peak RSS - RSS before the work) / N`, in KiB. */
  readonly memoryPerItem?: boolean
  /** Add a column with the items per second, under this heading (e.g. `"req/s"`). */
  readonly rate?: string
  /**
   * Add a column with the CPU time per item (user + system, every thread, median over rounds) of the measured
   * process: what a system costs apart from waiting, steadier than wall time on a shared machine.
   */
  readonly cpu?: boolean
}

/** Systems at several sizes, to show how the cost per item changes with N. */
export interface ScalingTable {
  readonly kind: "scaling"
  readonly title: string
  readonly sizes: ReadonlyArray<number>
  readonly params?: Readonly<Record<string, number>>
  readonly expect: (size: number) => number
  readonly systems: ReadonlyArray<System>
}

/** Pairs of (our wrapper, the raw primitive it builds on), each at its own size. */
export interface PairsTable {
  readonly kind: "pairs"
  readonly title: string
  readonly pairs: ReadonlyArray<{
    readonly ours: System
    readonly raw: System
    readonly size: number
    readonly params?: Readonly<Record<string, number>>
    readonly expect: (size: number) => number
    /** What the pair's workload is. */
    readonly work: string
  }>
}

/** A table of a workload. */
export type Table = SystemsTable | ScalingTable | PairsTable

/** A bar from DESIGN.md section 6, evaluated on a run's results. */
export interface Bar {
  /** Short name, e.g. `"W1 Gather.settle vs Effect.forEach"`. */
  readonly name: string
  /** The target, in words, e.g. `"<= 1.00x"`. */
  readonly target: string
  readonly evaluate: (results: Results) => BarVerdict
}

/** The outcome of a bar: `skipped` when a row it needs did not run (a module not written yet, no Python). */
export interface BarVerdict {
  readonly status: "pass" | "miss" | "skipped"
  /** The measured value, e.g. `"1.43x (356 MB vs 298 MB)"`. */
  readonly value: string
}

/** A workload: what is measured, its tables and its bars. */
export interface Workload {
  /** `w1`, `w2`, ...: the name on the command line. */
  readonly id: string
  /** Other names accepted on the command line. */
  readonly aliases: ReadonlyArray<string>
  readonly title: string
  /** A paragraph on what every system does, for the report. */
  readonly about: string
  readonly tables: ReadonlyArray<Table>
  readonly bars: ReadonlyArray<Bar>
  /**
   * Starts what every run of the workload needs (the HTTP workloads' local server) once, before the warm-up; its
   * `params` (e.g. `port`) reach every runner and `close` runs after the last round.
   */
  readonly setup?: (() => Promise<Fixture>) | undefined
}

/** What a workload's `setup` started. */
export interface Fixture {
  readonly params: Readonly<Record<string, number>>
  readonly close: () => Promise<void>
}

// ---------------------------------------------------------------------------------------------------------------
// Cases: one system at one size with its parameters; the unit that is run and measured

/** Options of a run. */
export interface RunOptions {
  /** Measured rounds per case (after the warm-up). */
  readonly rounds: number
  /** Warm-up rounds, discarded. */
  readonly warmup: number
  /** Multiplies every size (`--size`): 1 for the full run, e.g. 0.001 for the smoke test. */
  readonly scale: number
  /** A child running longer than this is killed and its row fails. */
  readonly timeoutMs: number
  /** Called with a progress line per measurement (the CLI prints them to stderr). */
  readonly onProgress?: ((line: string) => void) | undefined
}

/** A case to run: a system at an effective size. */
export interface Case {
  readonly key: string
  readonly system: System
  /** The size asked for (after `--size`), before the system's `maxSize` cap. */
  readonly requested: number
  /** The size it runs at. */
  readonly size: number
  readonly params: Readonly<Record<string, number>>
  readonly expected: number
}

/** One measurement reported by a child. */
export interface Sample {
  readonly ms: number
  readonly maxRssKb: number
  readonly baseRssKb: number
  /** CPU time (user + system) of the measured process during the work, when the child reports it. */
  readonly cpuMs: number
}

/** Median, min and max of a case's samples. */
export interface Summary {
  readonly size: number
  readonly medianMs: number
  readonly minMs: number
  readonly maxMs: number
  /** The median over rounds of the peak RSS, in KiB. */
  readonly peakRssKb: number
  /** The median over rounds of the RSS before the work started, in KiB. */
  readonly baseRssKb: number
  /** The median over rounds of the CPU time, in ms (`NaN` when the child does not report it). */
  readonly cpuMs: number
  readonly rounds: number
}

/** What happened to a case. */
export type CaseResult =
  | { readonly status: "ok"; readonly samples: ReadonlyArray<Sample>; readonly summary: Summary }
  | { readonly status: "skipped"; readonly reason: string }
  | { readonly status: "failed"; readonly error: string; readonly samples: ReadonlyArray<Sample> }

/** A run's results: look a case up by system and the size asked for. */
export interface Results {
  readonly get: (system: System, size: number, params?: Readonly<Record<string, number>>) => CaseResult | undefined
  readonly summary: (
    system: System,
    size: number,
    params?: Readonly<Record<string, number>>
  ) => Summary | undefined
}

const scaled = (size: number, scale: number): number => Math.max(1, Math.round(size * scale))

const caseOf = (
  system: System,
  size: number,
  scale: number,
  tableParams: Readonly<Record<string, number>> | undefined,
  expect: (size: number) => number
): Case => {
  const requested = scaled(size, scale)
  const effective = system.maxSize === undefined ? requested : Math.min(requested, system.maxSize)
  const params = { ...tableParams, ...system.params }
  return {
    key: `${system.file}@${effective}${Object.keys(params).length > 0 ? JSON.stringify(params) : ""}`,
    system,
    requested,
    size: effective,
    params,
    expected: expect(effective)
  }
}

/** Every case of a workload, deduplicated (the same system at the same size in two tables runs once). */
export const casesOf = (workload: Workload, scale: number): Array<Case> => {
  const cases = new Map<string, Case>()
  const add = (c: Case) => {
    if (!cases.has(c.key)) cases.set(c.key, c)
  }
  for (const table of workload.tables) {
    switch (table.kind) {
      case "systems":
        for (const s of table.systems) add(caseOf(s, table.size, scale, table.params, table.expect))
        break
      case "scaling":
        for (const s of table.systems) {
          for (const size of table.sizes) add(caseOf(s, size, scale, table.params, table.expect))
        }
        break
      case "pairs":
        for (const p of table.pairs) {
          add(caseOf(p.ours, p.size, scale, p.params, p.expect))
          add(caseOf(p.raw, p.size, scale, p.params, p.expect))
        }
        break
    }
  }
  return [...cases.values()]
}

// ---------------------------------------------------------------------------------------------------------------
// Environment: Python, missing modules, the machine

/** The Python interpreter: `/usr/bin/python3` if present, else `python3` on PATH; `undefined` if neither runs. */
export const findPython = (): { readonly path: string; readonly version: string } | undefined => {
  for (const candidate of ["/usr/bin/python3", "python3"]) {
    if (candidate.startsWith("/") && !existsSync(candidate)) continue
    const r = spawnSync(candidate, ["-c", "import sys; print(sys.version.split()[0])"], { encoding: "utf8" })
    if (r.status === 0) return { path: candidate, version: r.stdout.trim() }
  }
  return undefined
}

const pythonProbeCache = new Map<string, string | undefined>()

/** Why a Python row cannot run here, or `undefined` if it can. */
const pythonMissing = (
  python: { readonly path: string; readonly version: string } | undefined,
  needs: PythonNeeds
): string | undefined => {
  const howTo = needs.hint ?? "install Python 3.11+ (e.g. `apt-get install python3`, or pyenv)"
  if (python === undefined) return `no Python found (/usr/bin/python3 or python3 on PATH): ${howTo}`
  const code = [...needs.imports.map((m) => `import ${m}`), ...(needs.assert ? [`assert ${needs.assert}`] : [])]
    .join("; ")
  if (!pythonProbeCache.has(code)) {
    const r = spawnSync(python.path, ["-c", code], { encoding: "utf8" })
    pythonProbeCache.set(
      code,
      r.status === 0
        ? undefined
        : `Python ${python.version} at ${python.path} cannot run \`${code}\`: ${howTo}`
    )
  }
  return pythonProbeCache.get(code)
}

/** Why a Node row cannot run here (a core module not written yet), or `undefined` if it can. */
const moduleMissing = (system: System): string | undefined => {
  for (const name of system.requires ?? []) {
    if (!existsSync(join(coreSrc, `${name}.ts`))) {
      return `${name} is not written yet (packages/core/src/${name}.ts is missing)`
    }
  }
  return undefined
}

const packageVersion = (name: string): string | undefined => {
  try {
    const pkg = JSON.parse(readFileSync(join(benchDir, "node_modules", name, "package.json"), "utf8")) as {
      version?: string
    }
    return pkg.version
  } catch {
    return undefined
  }
}

const git = (args: Array<string>): string | undefined => {
  const r = spawnSync("git", args, { cwd: benchDir, encoding: "utf8" })
  return r.status === 0 ? r.stdout.trim() : undefined
}

/** The machine a run ran on, for the report. */
export interface Machine {
  readonly cores: number
  readonly cpu: string
  readonly memoryGb: number
  readonly os: string
  readonly node: string
  readonly python: string
  readonly packages: Readonly<Record<string, string>>
  readonly commit: string
  readonly loadAverage: ReadonlyArray<number>
}

/** Describes this machine: cores, CPU, memory, Node and Python versions, package versions, git commit. */
export const describeMachine = (): Machine => {
  const python = findPython()
  const commit = git(["rev-parse", "--short", "HEAD"])
  const dirty = git(["status", "--porcelain"])
  const packages: Record<string, string> = {}
  for (const name of ["effect", "p-limit", "p-map", "p-queue", "undici"]) {
    packages[name] = packageVersion(name) ?? "missing"
  }
  return {
    cores: os.availableParallelism(),
    cpu: os.cpus()[0]?.model.trim() ?? "unknown",
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    python: python === undefined ? "not found" : `${python.version} (${python.path})`,
    packages,
    commit: commit === undefined ? "unknown" : dirty ? `${commit} with uncommitted changes` : commit,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100)
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Running

type ChildOutcome =
  | { readonly _tag: "sample"; readonly sample: Sample; readonly check: number }
  | { readonly _tag: "skipped"; readonly reason: string }
  | { readonly _tag: "failed"; readonly error: string }

/** The line of a child's output that says what went wrong: the first that names an error, else the last. */
const errorLine = (text: string): string => {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l.length > 0)
  return lines.find((l) => /^\w*(Error|Exception)\b/.test(l)) ?? lines.find((l) => /error/i.test(l)) ?? lines.at(-1) ??
    ""
}

/** Runs one case once in a fresh process. */
const runChild = (
  c: Case,
  python: { readonly path: string } | undefined,
  timeoutMs: number,
  fixture: Readonly<Record<string, number>>
): Promise<ChildOutcome> =>
  new Promise((resolve) => {
    const file = join(benchDir, "systems", c.system.file)
    const arg = JSON.stringify({ size: c.size, params: { ...c.params, ...fixture } })
    const isPython = c.system.file.endsWith(".py")
    const command = isPython ? python?.path ?? "python3" : process.execPath
    const child = spawn(command, [file, arg], {
      cwd: benchDir,
      stdio: ["ignore", "pipe", "pipe"],
      env: isPython ? { ...process.env, PYTHONPATH: benchDir, PYTHONDONTWRITEBYTECODE: "1" } : process.env
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill("SIGKILL")
    }, timeoutMs)
    child.on("error", (error) => {
      clearTimeout(timer)
      resolve({ _tag: "failed", error: `could not start ${command}: ${error.message}` })
    })
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      if (timedOut) return resolve({ _tag: "failed", error: `timed out after ${timeoutMs} ms` })
      const line = stdout.split("\n").find((l) => l.startsWith(MARKER))
      if (code !== 0 || line === undefined) {
        return resolve({
          _tag: "failed",
          error: `exit ${code ?? signal}: ${errorLine(stderr || stdout) || "no output"}`
        })
      }
      const record = JSON.parse(line.slice(MARKER.length)) as {
        skipped?: string
        ms?: number
        maxRssKb?: number
        baseRssKb?: number
        cpuMs?: number
        check?: number
      }
      if (record.skipped !== undefined) return resolve({ _tag: "skipped", reason: record.skipped })
      resolve({
        _tag: "sample",
        sample: {
          ms: record.ms ?? NaN,
          maxRssKb: record.maxRssKb ?? NaN,
          baseRssKb: record.baseRssKb ?? NaN,
          cpuMs: record.cpuMs ?? NaN
        },
        check: record.check ?? NaN
      })
    })
  })

const median = (xs: ReadonlyArray<number>): number => {
  const sorted = xs.toSorted((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

const summarize = (size: number, samples: ReadonlyArray<Sample>): Summary => {
  const ms = samples.map((s) => s.ms)
  return {
    size,
    medianMs: median(ms),
    minMs: Math.min(...ms),
    maxMs: Math.max(...ms),
    peakRssKb: median(samples.map((s) => s.maxRssKb)),
    baseRssKb: median(samples.map((s) => s.baseRssKb)),
    cpuMs: median(samples.map((s) => s.cpuMs)),
    rounds: samples.length
  }
}

/** A workload's measured cases. */
export interface WorkloadRun {
  readonly workload: Workload
  readonly cases: ReadonlyArray<Case>
  readonly results: ReadonlyMap<string, CaseResult>
  readonly seconds: number
}

/** Runs the cases of one workload: checks what can run, a warm-up round, then interleaved measured rounds. */
export const runWorkload = async (workload: Workload, options: RunOptions): Promise<WorkloadRun> => {
  const started = performance.now()
  const cases = casesOf(workload, options.scale)
  const python = cases.some((c) => c.system.file.endsWith(".py")) ? findPython() : undefined
  const results = new Map<string, CaseResult>()
  const samples = new Map<string, Array<Sample>>()
  for (const c of cases) {
    const missing = c.system.python !== undefined
      ? pythonMissing(python, c.system.python)
      : moduleMissing(c.system)
    if (missing !== undefined) results.set(c.key, { status: "skipped", reason: missing })
    else samples.set(c.key, [])
  }
  const fixture = workload.setup !== undefined && samples.size > 0 ? await workload.setup() : undefined
  try {
    await measureRounds(workload, cases, options, python, fixture?.params ?? {}, samples, results)
  } finally {
    await fixture?.close()
  }
  for (const c of cases) {
    const list = samples.get(c.key)
    if (list !== undefined && !results.has(c.key)) {
      results.set(c.key, { status: "ok", samples: list, summary: summarize(c.size, list) })
    }
  }
  return { workload, cases, results, seconds: (performance.now() - started) / 1000 }
}

const measureRounds = async (
  workload: Workload,
  cases: ReadonlyArray<Case>,
  options: RunOptions,
  python: { readonly path: string } | undefined,
  fixture: Readonly<Record<string, number>>,
  samples: ReadonlyMap<string, Array<Sample>>,
  results: Map<string, CaseResult>
): Promise<void> => {
  const total = options.warmup + options.rounds
  for (let round = 0; round < total; round++) {
    const warm = round < options.warmup
    for (const c of cases) {
      const list = samples.get(c.key)
      if (list === undefined || results.has(c.key)) continue
      const outcome = await runChild(c, python, options.timeoutMs, fixture)
      const tag = warm ? "warm-up" : `round ${round - options.warmup + 1}/${options.rounds}`
      if (outcome._tag === "skipped") {
        results.set(c.key, { status: "skipped", reason: outcome.reason })
      } else if (outcome._tag === "failed") {
        results.set(c.key, { status: "failed", error: outcome.error, samples: list })
      } else if (outcome.check !== c.expected) {
        results.set(c.key, {
          status: "failed",
          error: `wrong check value ${outcome.check} (expected ${c.expected}): the system did not do the work`,
          samples: list
        })
      } else if (!warm) {
        list.push(outcome.sample)
      }
      const shown = results.get(c.key)
      options.onProgress?.(
        `${workload.id} ${tag} ${c.system.label} N=${c.size}: ${
          shown === undefined
            ? `${outcome._tag === "sample" ? outcome.sample.ms.toFixed(1) : "?"} ms`
            : shown.status === "skipped"
            ? `skipped (${shown.reason})`
            : shown.status === "failed"
            ? `FAILED (${shown.error})`
            : ""
        }`
      )
    }
  }
}

/** Looks results up by system and the size asked for (before `--size` scaling and `maxSize` capping). */
export const lookup = (runs: ReadonlyArray<WorkloadRun>, scale: number): Results => {
  const all = new Map<string, CaseResult>()
  for (const run of runs) for (const [k, v] of run.results) all.set(k, v)
  const get = (system: System, size: number, params?: Readonly<Record<string, number>>) =>
    all.get(caseOf(system, size, scale, params, () => 0).key)
  return {
    get,
    summary: (system, size, params) => {
      const r = get(system, size, params)
      return r?.status === "ok" ? r.summary : undefined
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reporting

const group3 = (n: number): string => n.toLocaleString("en-US")

/** Formats milliseconds: `1,234`, `85.3`, `4.27`. */
export const fmtMs = (ms: number): string =>
  !Number.isFinite(ms) ? "-" : ms >= 100 ? group3(Math.round(ms)) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2)

const fmtMb = (kb: number): string => (Number.isFinite(kb) ? group3(Math.round(kb / 1024)) : "-")

/** Formats a rate, `size` items in `ms` milliseconds, per second to three significant digits: `23,400`. */
export const fmtRate = (size: number, ms: number): string => {
  const perSecond = (size * 1000) / ms
  if (!Number.isFinite(perSecond)) return "-"
  const digits = Math.max(0, Math.floor(Math.log10(perSecond)) - 2)
  return group3(Math.round(perSecond / 10 ** digits) * 10 ** digits)
}

/** Formats a ratio: `1.23x`. */
export const fmtRatio = (r: number): string => (Number.isFinite(r) ? `${r.toFixed(2)}x` : "-")

const perItemUs = (s: Summary): number => (s.medianMs * 1000) / s.size

const label = (system: System): string => (system.ours ? `**${system.label}**` : system.label)

const row = (cells: ReadonlyArray<string>): string => `| ${cells.join(" | ")} |`

const notRunCell = (r: CaseResult | undefined): string =>
  r === undefined ? "-" : r.status === "skipped" ? "skipped" : r.status === "failed" ? "FAILED" : "-"

/** Collects the notes under a table: skips, failures, caps, and each system's own note. */
class Notes {
  private readonly lines: Array<string> = []
  add(line: string): void {
    if (!this.lines.includes(line)) this.lines.push(line)
  }
  result(system: System, r: CaseResult | undefined): void {
    if (r?.status === "skipped") this.add(`${system.label}: skipped: ${r.reason}.`)
    if (r?.status === "failed") this.add(`${system.label}: FAILED: ${r.error}`)
  }
  render(): string {
    return this.lines.length === 0 ? "" : "\n" + this.lines.map((l) => `- ${l}`).join("\n") + "\n"
  }
}

const renderSystems = (table: SystemsTable, results: Results, scale: number): string => {
  const notes = new Notes()
  const ref = table.systems.find((s) => s.label === table.reference)
  const refSummary = ref === undefined ? undefined : results.summary(ref, table.size, table.params)
  const header = [
    "system",
    "median ms",
    "min ms",
    "max ms",
    "µs/item",
    ...(table.rate === undefined ? [] : [table.rate]),
    ...(table.cpu ? ["CPU µs/item"] : []),
    "peak RSS MB",
    ...(table.memoryPerItem ? ["KiB/item"] : []),
    `time vs ${table.reference}`,
    `RSS vs ${table.reference}`
  ]
  const lines = [row(header), row(header.map((_, i) => (i === 0 ? "---" : "---:")))]
  for (const system of table.systems) {
    const r = results.get(system, table.size, table.params)
    notes.result(system, r)
    if (system.note) notes.add(`${system.label}: ${system.note}`)
    if (r?.status !== "ok") {
      lines.push(row([label(system), notRunCell(r), ...header.slice(2).map(() => "")]))
      continue
    }
    const s = r.summary
    const requested = scaled(table.size, scale)
    const capped = s.size < requested
    if (capped) {
      notes.add(
        `${system.label}: run at N = ${group3(s.size)} instead of ${
          group3(requested)
        } (too slow at full size); its time ratio compares cost per item.`
      )
    }
    const timeRatio = refSummary === undefined ? NaN : perItemUs(s) / perItemUs(refSummary)
    const rssRatio = refSummary === undefined ? NaN : s.peakRssKb / refSummary.peakRssKb
    lines.push(row([
      label(system) + (capped ? ` (N = ${group3(s.size)})` : ""),
      fmtMs(s.medianMs),
      fmtMs(s.minMs),
      fmtMs(s.maxMs),
      perItemUs(s).toFixed(2),
      ...(table.rate === undefined ? [] : [fmtRate(s.size, s.medianMs)]),
      ...(table.cpu ? [Number.isFinite(s.cpuMs) ? ((s.cpuMs * 1000) / s.size).toFixed(2) : "-"] : []),
      fmtMb(s.peakRssKb),
      ...(table.memoryPerItem ? [((s.peakRssKb - s.baseRssKb) / s.size).toFixed(2)] : []),
      fmtRatio(timeRatio),
      fmtRatio(rssRatio)
    ]))
  }
  const title = scale === 1 ? table.title : `${table.title} (run at N = ${group3(scaled(table.size, scale))})`
  return `#### ${title}\n\n${lines.join("\n")}\n${notes.render()}`
}

/**
 * How the cost per item grows with N: the marginal cost per item from the middle size to the largest, over that
 * from the smallest to the middle (the sizes that ran). Start-up and other fixed costs cancel out. About 1 (or
 * less) when each item costs the same however many wait; well above 1 when the cost grows with the waiters (a
 * quadratic path doubles its marginal cost when N doubles).
 */
export const marginalGrowth = (points: ReadonlyArray<Summary>): Marginal | undefined => {
  if (points.length < 3) return undefined
  const first = points[0] as Summary
  const mid = points[Math.floor((points.length - 1) / 2)] as Summary
  const last = points.at(-1) as Summary
  const lower = ((mid.medianMs - first.medianMs) * 1000) / (mid.size - first.size)
  const upper = ((last.medianMs - mid.medianMs) * 1000) / (last.size - mid.size)
  return { lower, upper, growth: upper / lower, sizes: [first.size, mid.size, last.size] }
}

/** See {@link marginalGrowth}: marginal µs per item below and above the middle size, and their ratio. */
export interface Marginal {
  readonly lower: number
  readonly upper: number
  readonly growth: number
  readonly sizes: readonly [number, number, number]
}

const describeMarginal = (m: Marginal): string =>
  `${m.upper.toFixed(2)} µs/item from N = ${group3(m.sizes[1])} to ${group3(m.sizes[2])}, ${m.lower.toFixed(2)} from ${
    group3(m.sizes[0])
  } to ${group3(m.sizes[1])}`

const renderScaling = (table: ScalingTable, results: Results, scale: number): string => {
  const notes = new Notes()
  const sizes = table.sizes.map((n) => scaled(n, scale))
  const header = ["system", ...sizes.map((n) => `N = ${group3(n)}`), "growth"]
  const lines = [row(header), row(header.map((_, i) => (i === 0 ? "---" : "---:")))]
  for (const system of table.systems) {
    const cells: Array<string> = []
    const points: Array<Summary> = []
    for (let i = 0; i < table.sizes.length; i++) {
      const r = results.get(system, table.sizes[i] as number, table.params)
      notes.result(system, r)
      if (r?.status !== "ok" || r.summary.size < (sizes[i] as number)) {
        cells.push(r?.status === "ok" ? "not run" : notRunCell(r))
        continue
      }
      points.push(r.summary)
      cells.push(`${fmtMs(r.summary.medianMs)} ms (${perItemUs(r.summary).toFixed(2)} µs)`)
    }
    if (system.maxSize !== undefined && sizes.some((n) => n > (system.maxSize as number))) {
      notes.add(`${system.label}: not run above N = ${group3(system.maxSize)} (too slow at full size).`)
    }
    const m = marginalGrowth(points)
    if (m !== undefined) notes.add(`${system.label}: ${describeMarginal(m)}.`)
    lines.push(row([label(system), ...cells, m === undefined ? "-" : fmtRatio(m.growth)]))
  }
  return `#### ${table.title}\n\nEach cell: median wall time (µs per item). Growth: the marginal cost per item from ` +
    "the middle N to the largest over that from the smallest N to the middle (fixed costs cancel out): about 1 or " +
    `less when the cost per item does not grow with the waiters, well above 1 when it does.\n\n${
      lines.join("\n")
    }\n${notes.render()}`
}

const renderPairs = (table: PairsTable, results: Results, scale: number): string => {
  const notes = new Notes()
  const header = ["ours", "raw primitive", "work", "N", "ours ms", "raw ms", "ours / raw", "ours RSS MB", "raw RSS MB"]
  const lines = [row(header), row(header.map((_, i) => (i < 3 ? "---" : "---:")))]
  for (const p of table.pairs) {
    const o = results.get(p.ours, p.size, p.params)
    const r = results.get(p.raw, p.size, p.params)
    notes.result(p.ours, o)
    notes.result(p.raw, r)
    const os = o?.status === "ok" ? o.summary : undefined
    const rs = r?.status === "ok" ? r.summary : undefined
    lines.push(row([
      label(p.ours),
      p.raw.label,
      p.work,
      group3(scaled(p.size, scale)),
      os ? fmtMs(os.medianMs) : notRunCell(o),
      rs ? fmtMs(rs.medianMs) : notRunCell(r),
      os && rs ? fmtRatio(os.medianMs / rs.medianMs) : "-",
      os ? fmtMb(os.peakRssKb) : "-",
      rs ? fmtMb(rs.peakRssKb) : "-"
    ]))
  }
  return `#### ${table.title}\n\n${lines.join("\n")}\n${notes.render()}`
}

/** The markdown section of one workload: title, what it does, its tables. */
export const renderWorkload = (run: WorkloadRun, results: Results, scale: number): string => {
  const tables = run.workload.tables.map((t) =>
    t.kind === "systems"
      ? renderSystems(t, results, scale)
      : t.kind === "scaling"
      ? renderScaling(t, results, scale)
      : renderPairs(t, results, scale)
  )
  return `### ${run.workload.title}\n\n${run.workload.about}\n\n${tables.join("\n")}`
}

/** A bar with its verdict. */
export interface BarResult {
  readonly workload: string
  readonly name: string
  readonly target: string
  readonly verdict: BarVerdict
}

/** Evaluates the bars of the workloads that ran. */
export const evaluateBars = (runs: ReadonlyArray<WorkloadRun>, results: Results): Array<BarResult> =>
  runs.flatMap((run) =>
    run.workload.bars.map((bar) => ({
      workload: run.workload.id,
      name: bar.name,
      target: bar.target,
      verdict: bar.evaluate(results)
    }))
  )

/** The bars as a markdown table. */
export const renderBars = (bars: ReadonlyArray<BarResult>): string => {
  const lines = [row(["bar", "target", "measured", "verdict"]), row(["---", "---", "---", "---"])]
  for (const b of bars) {
    lines.push(row([b.name, b.target, b.verdict.value, b.verdict.status === "miss" ? "**miss**" : b.verdict.status]))
  }
  return lines.join("\n")
}

/** The machine as a markdown list. */
export const renderMachine = (m: Machine): string =>
  [
    `- CPU: ${m.cpu}, ${m.cores} cores; ${m.memoryGb} GB RAM; ${m.os}`,
    `- Node ${m.node}; Python ${m.python}`,
    `- ${Object.entries(m.packages).map(([k, v]) => `${k} ${v}`).join(", ")}; commit ${m.commit}`,
    `- load average at start (1, 5, 15 min): ${m.loadAverage.join(", ")}`
  ].join("\n")

// ---------------------------------------------------------------------------------------------------------------
// Bars: helpers for workloads.ts

/** A bar comparing two rows: `value(ours, other)` against `<= limit` (or `>= limit` with `atLeast`). */
export const ratioBar = (options: {
  readonly name: string
  readonly ours: System
  readonly other: System
  readonly size: number
  readonly params?: Readonly<Record<string, number>>
  /** The measured ratio from the two summaries. */
  readonly ratio: (ours: Summary, other: Summary) => number
  readonly limit: number
  readonly atLeast?: boolean
  /** Describes the two summaries after the ratio, e.g. `(356 MB vs 298 MB)`. */
  readonly detail: (ours: Summary, other: Summary) => string
}): Bar => ({
  name: options.name,
  target: `${options.atLeast ? ">=" : "<="} ${options.limit.toFixed(2)}x`,
  evaluate: (results) => {
    const o = results.summary(options.ours, options.size, options.params)
    const t = results.summary(options.other, options.size, options.params)
    if (o === undefined || t === undefined) {
      const missing = o === undefined ? options.ours : options.other
      return { status: "skipped", value: `${missing.label} did not run` }
    }
    const r = options.ratio(o, t)
    const pass = options.atLeast ? r >= options.limit : r <= options.limit
    return { status: pass ? "pass" : "miss", value: `${fmtRatio(r)} ${options.detail(o, t)}` }
  }
})

/** Time per item of ours over time per item of the other (sizes may differ when one row is capped). */
export const timeRatio = (ours: Summary, other: Summary): number => perItemUs(ours) / perItemUs(other)

/** `(123 ms vs 456 ms)`. */
export const timeDetail = (ours: Summary, other: Summary): string =>
  `(${fmtMs(ours.medianMs)} ms vs ${fmtMs(other.medianMs)} ms)`

/** A bar on how the cost per item grows with N in a scaling table (see {@link marginalGrowth}). */
export const growthBar = (options: {
  readonly name: string
  readonly system: System
  readonly sizes: ReadonlyArray<number>
  readonly params?: Readonly<Record<string, number>>
  readonly limit: number
}): Bar => ({
  name: options.name,
  target: `<= ${options.limit.toFixed(2)}x`,
  evaluate: (results) => {
    const points = options.sizes.map((n) => results.summary(options.system, n, options.params))
    if (points.some((p) => p === undefined)) {
      return { status: "skipped", value: `${options.system.label} did not run at every size` }
    }
    const m = marginalGrowth(points as Array<Summary>)
    if (m === undefined) return { status: "skipped", value: "fewer than 3 sizes" }
    return {
      status: m.growth <= options.limit ? "pass" : "miss",
      value: `${fmtRatio(m.growth)} (${describeMarginal(m)})`
    }
  }
})
