/**
 * Real Node processes for the Redis process tests: spawn a fixture on the real node binary (signals reach it),
 * read its stdout line by line, kill it, and always SIGKILL it when the test's scope closes.
 */
import { Deferred, Effect, Scope } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

export interface Child {
  readonly pid: number
  /** The stdout lines so far. */
  readonly lines: () => ReadonlyArray<string>
  /** Waits for the first stdout line that satisfies `predicate` (seen before or later). */
  readonly awaitLine: (predicate: (line: string) => boolean) => Effect.Effect<string>
  readonly kill: (signal: NodeJS.Signals) => Effect.Effect<void>
  /** Completes with the exit code (or the signal name) when the process ends. */
  readonly exited: Deferred.Deferred<number | string>
  readonly stderr: () => string
}

export const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))

export const spawnNode = (script: string, args: ReadonlyArray<string>): Effect.Effect<Child, never, Scope.Scope> =>
  Effect.gen(function*() {
    const exited = yield* Deferred.make<number | string>()
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"] })),
      (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
    )
    const lines: Array<string> = []
    const watchers: Array<{ readonly predicate: (line: string) => boolean; readonly done: (line: string) => void }> = []
    let buffer = ""
    let stderr = ""
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      buffer += chunk
      let i = buffer.indexOf("\n")
      while (i !== -1) {
        const line = buffer.slice(0, i)
        buffer = buffer.slice(i + 1)
        lines.push(line)
        for (let w = watchers.length - 1; w >= 0; w--) {
          if (watchers[w]!.predicate(line)) watchers.splice(w, 1)[0]!.done(line)
        }
        i = buffer.indexOf("\n")
      }
    })
    child.stderr.setEncoding("utf8")
    child.stderr.on("data", (chunk: string) => (stderr += chunk))
    child.on("exit", (code, signal) => Deferred.doneUnsafe(exited, Effect.succeed(code ?? signal ?? "unknown")))
    return {
      pid: child.pid!,
      lines: () => lines,
      stderr: () => stderr,
      exited,
      kill: (signal) => Effect.sync(() => void child.kill(signal)),
      awaitLine: (predicate) =>
        Effect.callback<string>((resume) => {
          const seen = lines.find(predicate)
          if (seen !== undefined) return resume(Effect.succeed(seen))
          const watcher = { predicate, done: (line: string) => resume(Effect.succeed(line)) }
          watchers.push(watcher)
          return Effect.sync(() => {
            const i = watchers.indexOf(watcher)
            if (i !== -1) watchers.splice(i, 1)
          })
        })
    }
  })
