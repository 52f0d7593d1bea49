/**
 * @internal
 *
 * The scan's rules: their ids, one-line descriptions and the fix each finding suggests.
 */
import type { RuleId } from "../../Scan.ts"

/** @internal */
export const ruleIds: ReadonlyArray<RuleId> = [
  "blocking-fs",
  "blocking-child-process",
  "blocking-crypto",
  "blocking-zlib",
  "atomics-wait",
  "busy-wait",
  "orphaned-fiber",
  "floating-promise"
]

/** @internal */
export const ruleDescriptions: { readonly [K in RuleId]: string } = {
  "blocking-fs": "a synchronous node:fs call (readFileSync, writeFileSync, existsSync, ...)",
  "blocking-child-process": "a synchronous node:child_process call (execSync, execFileSync, spawnSync)",
  "blocking-crypto":
    "a synchronous node:crypto call (pbkdf2Sync, scryptSync, randomFillSync, generateKeyPairSync, ...)",
  "blocking-zlib": "a synchronous node:zlib call (gzipSync, inflateSync, brotliCompressSync, ...)",
  "atomics-wait": "Atomics.wait, which parks the event-loop thread",
  "busy-wait": "a loop spinning on Date.now() / performance.now() with a trivial body",
  "orphaned-fiber": "a forked fiber whose handle is dropped, or Effect.runFork as a bare statement inside Effect code",
  "floating-promise": "a promise-returning call used as a statement, neither awaited nor marked with void"
}

const withoutSync = (name: string): string => name.endsWith("Sync") ? name.slice(0, -4) : name

/** @internal */
export const fixFor = (rule: RuleId, name: string): string => {
  const base = withoutSync(name)
  switch (rule) {
    case "blocking-fs":
      return base === "exists"
        ? "use FileSystem.exists (effect), or Effect.tryPromise(() => fs.promises.access(...))"
        : `use FileSystem.${base} (effect), or Effect.tryPromise(() => fs.promises.${base}(...))`
    case "blocking-child-process":
      return `use ChildProcess from effect/process, or child_process.${base} in Effect.callback`
    case "blocking-crypto":
      return `use the callback form crypto.${base} in Effect.callback, or offload to a worker thread (Offload)`
    case "blocking-zlib":
      return `use the callback or stream form zlib.${base}, or offload to a worker thread (Offload)`
    case "atomics-wait":
      return "use Effect.sleep (or Atomics.waitAsync): never park the event-loop thread"
    case "busy-wait":
      return "use Effect.sleep / Clock instead of spinning on the clock"
    case "orphaned-fiber":
      return name === "runFork"
        ? "do not start a new root fiber from Effect code: fork into a scope (forkScoped / FiberSet / TaskGroup)"
        : "keep the fiber: forkScoped / FiberSet / TaskGroup, or bind the handle and join or interrupt it"
    case "floating-promise":
      return "await it (yield* Effect.promise / Effect.tryPromise in Effect code), or write void if fire-and-forget is meant"
  }
}
