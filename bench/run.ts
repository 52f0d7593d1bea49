/**
 * `pnpm bench [workload…] [flags]`: runs the side-by-side benchmarks (see `workloads.ts` for what each measures and
 * `harness.ts` for the method), prints a markdown report, and writes `bench/results/<timestamp>.json`. A full run
 * (every workload at `--size 1`) also rewrites `bench/RESULTS.md`.
 *
 * Flags:
 * - `--rounds N`   measured rounds per system (default 5), after `--warmup N` discarded rounds (default 1)
 * - `--size X`     multiplies every workload size (default 1; the smoke test uses 0.001)
 * - `--check`      exit 1 when a bar of DESIGN.md section 6 is missed (bars whose rows did not run are skipped)
 * - `--note TEXT`  a note for the report (e.g. that the machine was shared)
 * - `--no-save`    write neither the JSON nor RESULTS.md
 * - `--timeout S`  kill a system after S seconds (default 300)
 * Workloads: w1 gather, w2 bounded, w3 queue, w4 fetch-all, w5 memory, w6 server, w7 wrappers (default: all).
 */
import { mkdir, writeFile } from "node:fs/promises"
import { loadavg } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import {
  type BarResult,
  benchDir,
  describeMachine,
  evaluateBars,
  lookup,
  type Machine,
  renderBars,
  renderMachine,
  renderWorkload,
  type RunOptions,
  runWorkload,
  type Workload,
  type WorkloadRun
} from "./harness.ts"
import { pending, workloads } from "./workloads.ts"

/** What {@link runBench} returns. */
export interface BenchReport {
  readonly machine: Machine
  readonly options: RunOptions
  readonly runs: ReadonlyArray<WorkloadRun>
  readonly bars: ReadonlyArray<BarResult>
  /** The workload sections and the bars, in markdown. */
  readonly markdown: string
  /** Cases that failed (crashed, timed out, returned a wrong check value), as `workload system: error`. */
  readonly failures: ReadonlyArray<string>
}

/** Runs the given workloads and builds the report (writes nothing). */
export const runBench = async (selected: ReadonlyArray<Workload>, options: RunOptions): Promise<BenchReport> => {
  if (!process.features.typescript) {
    throw new Error(`bench needs a Node that runs .ts files (>= 22.18); ${process.execPath} is ${process.version}`)
  }
  const machine = describeMachine()
  const runs: Array<WorkloadRun> = []
  for (const workload of selected) runs.push(await runWorkload(workload, options))
  const sections: Array<string> = []
  const bars: Array<BarResult> = []
  const failures: Array<string> = []
  for (const run of runs) {
    const results = lookup([run], options.scale)
    sections.push(renderWorkload(run, results, options.scale))
    bars.push(...evaluateBars([run], results))
    for (const c of run.cases) {
      const r = run.results.get(c.key)
      if (r?.status === "failed") failures.push(`${run.workload.id} ${c.system.label} (N = ${c.size}): ${r.error}`)
    }
  }
  const markdown = [...sections, `### Bars (DESIGN.md section 6)\n\n${renderBars(bars)}\n`].join("\n")
  return { machine, options, runs, bars, markdown, failures }
}

const usage = `usage: pnpm bench [workload…] [--rounds N] [--warmup N] [--size X] [--check] [--note TEXT] [--no-save]
workloads: ${workloads.map((w) => `${w.id} (${w.aliases.join(", ")})`).join(", ")}`

const selectWorkloads = (names: ReadonlyArray<string>): Array<Workload> | string => {
  if (names.length === 0) return [...workloads]
  const out: Array<Workload> = []
  for (const name of names) {
    const key = name.toLowerCase()
    const w = workloads.find((w) => w.id === key || w.aliases.includes(key))
    if (w !== undefined) {
      if (!out.includes(w)) out.push(w)
      continue
    }
    const later = pending.find((p) => p.id === key || p.aliases.includes(key))
    return later !== undefined ? `${later.why}; not benchmarked yet` : `unknown workload "${name}"\n${usage}`
  }
  return workloads.filter((w) => out.includes(w))
}

const positiveNumber = (flag: string, raw: string | undefined, fallback: number, integer: boolean): number => {
  if (raw === undefined) return fallback
  const v = Number(raw)
  if (!Number.isFinite(v) || v < (integer ? 0 : Number.MIN_VALUE) || (integer && !Number.isInteger(v))) {
    console.error(`--${flag} must be ${integer ? "an integer >= 0" : "a number > 0"}, got "${raw}"\n${usage}`)
    process.exit(2)
  }
  return v
}

const timestamp = (date: Date): string => date.toISOString().replace(/\.\d+Z$/, "Z").replaceAll(":", "-")

const main = async (): Promise<void> => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      rounds: { type: "string" },
      warmup: { type: "string" },
      size: { type: "string" },
      timeout: { type: "string" },
      check: { type: "boolean", default: false },
      note: { type: "string" },
      "no-save": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false }
    }
  })
  if (values.help) {
    console.log(usage)
    return
  }
  const selected = selectWorkloads(positionals)
  if (typeof selected === "string") {
    console.error(selected)
    process.exit(2)
  }
  const options: RunOptions = {
    rounds: Math.max(1, positiveNumber("rounds", values.rounds, 5, true)),
    warmup: positiveNumber("warmup", values.warmup, 1, true),
    scale: positiveNumber("size", values.size, 1, false),
    timeoutMs: positiveNumber("timeout", values.timeout, 300, false) * 1000,
    onProgress: (line) => console.error(line)
  }
  const started = new Date()
  const report = await runBench(selected, options)
  const finished = new Date()
  const full = selected.length === workloads.length && options.scale === 1
  const command = ["pnpm bench", ...process.argv.slice(2).map((a) => (/[\s"'`]/.test(a) ? JSON.stringify(a) : a))]
    .join(" ")
  const header = [
    `## Run of ${started.toISOString().slice(0, 16).replace("T", " ")} UTC`,
    "",
    `\`${command}\`: ${options.rounds} measured round(s) after ${options.warmup} warm-up round(s), sizes x${options.scale}` +
    `, ${Math.round((finished.getTime() - started.getTime()) / 1000)} s in all.`,
    "",
    renderMachine(report.machine),
    `- load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(", ")}`,
    ...(values.note === undefined ? [] : ["", `**Note:** ${values.note}`]),
    ""
  ].join("\n")
  const markdown = `${header}\n${report.markdown}`
  console.log(markdown)
  if (!values["no-save"]) {
    const dir = join(benchDir, "results")
    await mkdir(dir, { recursive: true })
    const file = join(dir, `${timestamp(started)}.json`)
    await writeFile(
      file,
      JSON.stringify(
        {
          command,
          startedAt: started.toISOString(),
          finishedAt: finished.toISOString(),
          note: values.note,
          machine: report.machine,
          options: { rounds: options.rounds, warmup: options.warmup, scale: options.scale },
          workloads: report.runs.map((run) => ({
            id: run.workload.id,
            title: run.workload.title,
            seconds: run.seconds,
            cases: run.cases.map((c) => ({
              system: c.system.label,
              file: c.system.file,
              ours: c.system.ours === true,
              size: c.size,
              params: c.params,
              ...run.results.get(c.key)
            }))
          })),
          bars: report.bars
        },
        null,
        2
      ) + "\n"
    )
    console.error(`wrote ${file}`)
    if (full) {
      const results = join(benchDir, "RESULTS.md")
      await writeFile(results, resultsPage(markdown))
      console.error(`wrote ${results}`)
    }
  }
  if (report.failures.length > 0) {
    console.error(`\n${report.failures.length} system(s) failed:\n  ${report.failures.join("\n  ")}`)
    process.exitCode = 1
  }
  const missed = report.bars.filter((b) => b.verdict.status === "miss")
  if (values.check && missed.length > 0) {
    console.error(`\n--check: ${missed.length} bar(s) missed:\n  ${missed.map((b) => b.name).join("\n  ")}`)
    process.exitCode = 1
  }
}

const resultsPage = (report: string): string =>
  `# Benchmark results

The latest full run of \`pnpm bench\` (every workload at full size), rewritten by that command. Numbers are wall
times of the work only, measured in a fresh process per run (start-up and imports excluded), median / min / max
over the rounds; peak RSS is the child's high-water mark, start-up included. Ratios compare with our row of the
table (**bold** rows are ours). Reproduce with \`pnpm bench\` (about 7 minutes on 2 cores); check the bars with
\`pnpm bench --check\`. Rows of modules not written yet, or needing a Python that is missing, are skipped with a note.

${report}`

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error)
    process.exit(1)
  })
}
