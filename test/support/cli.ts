/**
 * Runs the `async-ops` bin (`packages/cli/src/bin.ts`) as a real child process on the real node binary, for the
 * process tests in `test/cli-*.test.ts`.
 */
import { Data, Effect } from "effect"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"

/** The repository root, with a trailing slash. */
export const root = fileURLToPath(new URL("../..", import.meta.url))
const bin = fileURLToPath(new URL("../../packages/cli/src/bin.ts", import.meta.url))

/** How a run ended: the exit code (`null` if killed by a signal) and everything printed. */
export interface Outcome {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** The process could not be started, or was killed (by the timeout, or past `maxBuffer`). */
export class SpawnError extends Data.TaggedError("SpawnError")<{ readonly message: string }> {}

/** Options of {@link runCli}: the working directory (default the repository root), the kill timeout in ms, and the
 * stdout/stderr buffer limit in bytes (default node's, 1 MiB). */
export interface RunCliOptions {
  readonly cwd?: string | undefined
  readonly timeout: number
  readonly maxBuffer?: number | undefined
}

/** Runs `node bin.ts ...args`; a non-zero exit is an {@link Outcome}, not a failure. Interrupting kills the child. */
export const runCli = (args: ReadonlyArray<string>, options: RunCliOptions): Effect.Effect<Outcome, SpawnError> =>
  Effect.callback<Outcome, SpawnError>((resume) => {
    const child = execFile(
      process.execPath,
      [bin, ...args],
      {
        cwd: options.cwd ?? root,
        timeout: options.timeout,
        ...(options.maxBuffer === undefined ? {} : { maxBuffer: options.maxBuffer })
      },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== "number") {
          resume(Effect.fail(new SpawnError({ message: error.message })))
        } else {
          resume(Effect.succeed({ code: child.exitCode, stdout, stderr }))
        }
      }
    )
    return Effect.sync(() => child.kill("SIGKILL"))
  })
