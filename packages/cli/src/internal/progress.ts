/**
 * The progress display of `fetch` and `demo` on stderr: a bar redrawn in place on a terminal, or a few plain
 * lines (at 25/50/75 %) when stderr is not a terminal and the command asks for them.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/**
 * One look at a run: inputs in all, ended ones (of which failed), calls in flight, retries so far, elapsed time.
 *
 * @internal
 */
export interface Snapshot {
  readonly total: number
  readonly done: number
  readonly failed: number
  readonly inFlight: number
  readonly retrying: number
  readonly elapsedMs: number
}

const formatEta = (seconds: number): string => {
  if (!Number.isFinite(seconds)) return "--"
  if (seconds < 60) return `${Math.ceil(seconds)}s`
  const m = Math.floor(seconds / 60)
  return `${m}m${String(Math.ceil(seconds - m * 60)).padStart(2, "0")}s`
}

/**
 * One progress line: `[#####.....]  1234/3000  41%  failed 12  retrying 3  in flight 64  812/s  ETA 3s`.
 *
 * @internal
 */
export const render = (s: Snapshot, width = 20): string => {
  const fraction = s.total === 0 ? 1 : Math.min(1, s.done / s.total)
  const filled = Math.round(fraction * width)
  const bar = `[${"#".repeat(filled)}${".".repeat(width - filled)}]`
  const rate = s.elapsedMs > 0 ? (s.done * 1000) / s.elapsedMs : 0
  const eta = rate > 0 ? (s.total - s.done) / rate : Number.POSITIVE_INFINITY
  return `${bar} ${s.done}/${s.total} ${Math.floor(fraction * 100)}%  failed ${s.failed}  retrying ${s.retrying}  ` +
    `in flight ${s.inFlight}  ${rate.toFixed(0)}/s  ETA ${formatEta(eta)}`
}

const write = (text: string) => Effect.sync(() => void process.stderr.write(text))

/**
 * Shows progress for the current scope: on a terminal (`tty`) the bar is redrawn every 100 ms and erased when the
 * scope closes; otherwise, with `plain`, a line is printed when a quarter, half and three quarters are done.
 *
 * @internal
 */
export const show = (
  read: Effect.Effect<Snapshot>,
  options: { readonly tty: boolean; readonly plain: boolean }
): Effect.Effect<void, never, Scope.Scope> => {
  if (options.tty) {
    const loop = Effect.forever(
      Effect.andThen(Effect.flatMap(read, (s) => write(`\r${render(s)}\x1b[K`)), Effect.sleep("100 millis"))
    )
    return Effect.asVoid(Effect.acquireRelease(Effect.forkScoped(loop), () => write("\r\x1b[K")))
  }
  if (!options.plain) return Effect.void
  let printed = 0
  const loop = Effect.forever(
    Effect.andThen(
      Effect.flatMap(read, (s) => {
        const quarter = s.total === 0 ? 0 : Math.floor((s.done / s.total) * 4)
        if (quarter <= printed || quarter >= 4) return Effect.void
        printed = quarter
        return write(`progress: ${render(s, 20)}\n`)
      }),
      Effect.sleep("100 millis")
    )
  )
  return Effect.asVoid(Effect.forkScoped(loop))
}
