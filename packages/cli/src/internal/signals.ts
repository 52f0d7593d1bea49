/**
 * Stop requests for the commands that stop gracefully (`fetch`, `demo`): the first SIGINT/SIGTERM completes
 * `first`; a second one completes `force` (the command then cuts off what is still running at once instead of
 * waiting for its grace period). Nothing here exits the process: the command ends and the runner exits with the
 * code of the signal, after its records and summary are written.
 *
 * The process group's leader going away while this process's parent is still there counts as a stop too (`SIGHUP`):
 * `npx pnpm start` runs the demo under npx, pnpm, two `sh` shims and node, and a SIGTERM to npx (what `timeout` or a
 * supervisor sends to the process it started) reaches neither the demo nor the shims in between, which would leave
 * the demo running as an orphan. A process whose parent is gone too (`cmd &` in a script, `nohup`) keeps running.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { readFileSync } from "node:fs"

/** @internal */
export type StopSignal = "SIGINT" | "SIGTERM" | "SIGHUP"

/**
 * The exit code for a stop by `signal`: 128 + the signal number (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP),
 * as shells do.
 *
 * @internal
 */
export const exitCodeOf = (signal: StopSignal): number => signal === "SIGINT" ? 130 : signal === "SIGHUP" ? 129 : 143

/** @internal */
export interface Stop {
  /** Completed by the first stop request. */
  readonly first: Deferred.Deferred<StopSignal>
  /** Completed by the second one: stop waiting for work in flight. */
  readonly force: Deferred.Deferred<StopSignal>
}

/**
 * The process group of this process and whether its leader is still running, from `/proc` (Linux); `undefined`
 * where `/proc` is not there or this process leads its group (then there is nothing to watch).
 *
 * @internal
 */
export const groupLeader = (): number | undefined => {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    const pgrp = Number(fields[2])
    return Number.isInteger(pgrp) && pgrp > 1 && pgrp !== process.pid ? pgrp : undefined
  } catch {
    return undefined
  }
}

/** @internal */
export const isRunning = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
    return state !== "Z" && state !== "X"
  } catch {
    return false
  }
}

/**
 * Installs SIGINT/SIGTERM handlers for the current scope and watches the process group's leader (every 250 ms).
 *
 * @internal
 */
export const stopSignal: Effect.Effect<Stop, never, Scope.Scope> = Effect.gen(function*() {
  const stop: Stop = { first: yield* Deferred.make<StopSignal>(), force: yield* Deferred.make<StopSignal>() }
  const request = (signal: StopSignal): void => {
    if (!Deferred.doneUnsafe(stop.first, Effect.succeed(signal))) {
      if (Deferred.doneUnsafe(stop.force, Effect.succeed(signal))) {
        process.stderr.write(`\n${signal} again: stopping now\n`)
      }
    }
  }
  yield* Effect.acquireRelease(
    Effect.sync(() => {
      const onInt = () => request("SIGINT")
      const onTerm = () => request("SIGTERM")
      process.on("SIGINT", onInt)
      process.on("SIGTERM", onTerm)
      return { onInt, onTerm }
    }),
    ({ onInt, onTerm }) =>
      Effect.sync(() => {
        process.off("SIGINT", onInt)
        process.off("SIGTERM", onTerm)
      })
  )
  const leader = groupLeader()
  if (leader !== undefined) {
    // Only while the parent that started this process is still there: a leader gone while the parent still waits
    // means the stop was lost on the way (a shim that does not forward it); a parent gone too means this process
    // was deliberately left running (`cmd &` in a script, `nohup`), and it keeps running.
    const parent = process.ppid
    yield* Effect.forkScoped(
      Effect.sync(() => isRunning(leader) && process.ppid === parent).pipe(
        Effect.repeat({ while: (watching) => watching, schedule: Schedule.spaced("250 millis") }),
        Effect.andThen(Effect.sync(() => {
          if (process.ppid === parent) request("SIGHUP")
        }))
      )
    )
  }
  return stop
})

/** @internal */
export interface GracefulStop {
  /** The signal of the first stop request, once there was one. */
  readonly stoppedBy: () => StopSignal | undefined
  /** Completed `grace` after the first stop request, or at the second one: cut off what is still running. */
  readonly hardStop: Deferred.Deferred<void>
}

/**
 * The stop of a run (`fetch`, `demo`): at the first stop request `onStop` runs (the run stops starting new work);
 * `grace` later, or at once on a second request, `hardStop` completes and the run cuts off what is still running.
 *
 * @internal
 */
export const gracefulStop = (
  grace: Duration.Input,
  onStop: () => void
): Effect.Effect<GracefulStop, never, Scope.Scope> =>
  Effect.gen(function*() {
    const signal = yield* stopSignal
    const hardStop = yield* Deferred.make<void>()
    let stoppedBy: StopSignal | undefined
    yield* Effect.forkScoped(Effect.gen(function*() {
      stoppedBy = yield* Deferred.await(signal.first)
      onStop()
      yield* Effect.raceFirst(Effect.sleep(grace), Deferred.await(signal.force))
      yield* Deferred.succeed(hardStop, undefined)
    }))
    return { stoppedBy: () => stoppedBy, hardStop }
  })
