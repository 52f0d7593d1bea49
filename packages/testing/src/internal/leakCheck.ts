/** @internal */
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import type { FiberCounts } from "../LeakCheck.ts"
import { FiberLeakError } from "../LeakCheck.ts"

/** Scheduler turns to wait for fibers that are already finishing (interrupted, running finalizers). */
const settleTurns = 64

const counted = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<[exit: Exit.Exit<A, E>, counts: FiberCounts], never, R> =>
  Effect.suspend(() => {
    let started = 0
    let ended = 0
    const service: Metric.FiberRuntimeMetricsService = {
      recordFiberStart: () => {
        started++
      },
      recordFiberEnd: () => {
        ended++
      }
    }
    return Effect.provideService(effect, Metric.FiberRuntimeMetrics, service).pipe(
      Effect.exit,
      Effect.flatMap((exit) =>
        Effect.gen(function*() {
          for (let i = 0; i < settleTurns && started - ended > 0; i++) yield* Effect.yieldNow
          return [exit, { started, ended, alive: started - ended }] as [typeof exit, FiberCounts]
        })
      )
    )
  })

/** @internal */
export const track = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<[A, FiberCounts], E, R> =>
  Effect.flatMap(counted(effect), ([exit, counts]) => Effect.map(exit, (a): [A, FiberCounts] => [a, counts]))

/** @internal */
export const fibers = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | FiberLeakError, R> =>
  Effect.flatMap(
    counted(effect),
    ([exit, counts]): Effect.Effect<A, E | FiberLeakError> =>
      counts.alive > 0
        ? Effect.fail(new FiberLeakError({ alive: counts.alive, started: counts.started }))
        : exit
  )
