/**
 * The child side of the harness, for Node systems. Each system is a small file that calls {@link bench} with its
 * workload; the harness spawns it in a fresh process (`node <file> <json args>`), so no system's modules, JIT state
 * or heap affect another's. The child times only the work (not process start-up or module loading), then prints one
 * line `@@bench {"ms", "maxRssKb", "baseRssKb", "check"}` and exits:
 * - `ms`: wall time of the work (`performance.now()` around it);
 * - `maxRssKb`: the process's peak resident set size (`process.resourceUsage().maxRSS`, i.e. Linux `VmHWM`);
 * - `baseRssKb`: the resident set size just before the work (after imports), to tell what the work added;
 * - `check`: a number the work computed (a sum of its results) that the harness compares across systems, so a
 *   system that skipped work is caught;
 * - `cpuMs`: the CPU time (user + system, every thread) the process spent on the work; not in the report, but in
 *   the child's line for a look at the cost of a system apart from the wait on a shared machine.
 *
 * A system that cannot run here (a module not written yet, an API it does not recognise) calls {@link skip}.
 */
import { performance } from "node:perf_hooks"

/** What the harness passes to a child: the workload size and the workload's own parameters. */
export interface Args {
  readonly size: number
  readonly params: Readonly<Record<string, number>>
}

/** The marker that starts the child's result line on stdout. */
export const MARKER = "@@bench "

const parseArgs = (): Args => {
  const raw = process.argv[2]
  if (raw === undefined) throw new Error("usage: node <system>.ts '{\"size\":N,\"params\":{...}}'")
  const parsed = JSON.parse(raw) as Partial<Args>
  if (typeof parsed.size !== "number" || !(parsed.size >= 1)) throw new Error(`bad size in ${raw}`)
  return { size: parsed.size, params: parsed.params ?? {} }
}

const emit = (record: Record<string, unknown>): void => {
  // Writes to a pipe are synchronous on Linux; the callback makes sure the line is out before exiting elsewhere.
  process.stdout.write(MARKER + JSON.stringify(record) + "\n", () => process.exit(0))
}

/**
 * Runs `work` once, timed, and reports to the harness. `work` returns the check value (for example the sum of its
 * results, after checking they came back in order).
 */
export const bench = (work: (args: Args) => Promise<number>): void => {
  const args = parseArgs()
  const baseRssKb = Math.round(process.memoryUsage.rss() / 1024)
  const cpu = process.cpuUsage()
  const start = performance.now()
  work(args).then(
    (check) => {
      const ms = performance.now() - start
      const used = process.cpuUsage(cpu)
      const cpuMs = (used.user + used.system) / 1000
      emit({ ms, maxRssKb: process.resourceUsage().maxRSS, baseRssKb, check, cpuMs })
    },
    (error: unknown) => {
      console.error(error)
      process.exit(1)
    }
  )
}

/**
 * Like {@link bench}, but the work measures itself: it returns the wall time of the part to report (`ms`) with the
 * check value, and optionally its CPU time (`cpuMs`). For systems whose work is timed elsewhere, e.g. W6's servers,
 * timed by their load generator's process (so the server's start-up and the generator's own start-up are not
 * counted).
 */
export const benchMeasured = (
  work: (args: Args) => Promise<{ readonly ms: number; readonly check: number; readonly cpuMs?: number }>
): void => {
  const args = parseArgs()
  const baseRssKb = Math.round(process.memoryUsage.rss() / 1024)
  work(args).then(
    ({ check, cpuMs, ms }) => emit({ ms, maxRssKb: process.resourceUsage().maxRSS, baseRssKb, check, cpuMs }),
    (error: unknown) => {
      console.error(error)
      process.exit(1)
    }
  )
}

/** Tells the harness this system cannot run here, and why (shown as a note under the table). */
export const skip = (reason: string): void => emit({ skipped: reason })

/** The integers `0 .. n-1`. */
export const range = (n: number): Array<number> => Array.from({ length: n }, (_, i) => i)

/** The sum `0 + 1 + ... + (n-1)`: the check value of every workload that returns its inputs. */
export const triangle = (n: number): number => (n * (n - 1)) / 2

/** Checks that `results[i] === i` for every i (results in input order) and returns their sum. */
export const sumInOrder = (results: ReadonlyArray<number>): number => {
  let sum = 0
  for (let i = 0; i < results.length; i++) {
    if (results[i] !== i) throw new Error(`result ${i} is ${String(results[i])}: results are not in input order`)
    sum += i
  }
  return sum
}

/** Resolves with `value` after one macrotask (`setImmediate`): the unit of work of the bounded workload (W2). */
export const immediate = <A>(value: A): Promise<A> => new Promise((resolve) => setImmediate(resolve, value))
