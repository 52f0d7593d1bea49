/**
 * Leader election by key: run a job in at most one place at a time. It answers the "only one replica runs the
 * cron job" problem that Python services solve with a Redis lock (redis-py's `Lock`, python-redis-lock) or
 * Kubernetes' Lease-based leader election: whoever holds the lease for a key runs the job; the others wait and
 * take over when it ends or its holder dies.
 *
 * This module is the interface and its in-process implementation (the default, so one process never runs a job
 * twice with no setup). `@async-ops/redis`'s `RedisElection.layer` swaps in leases in Redis, so the same code
 * elects one runner across a fleet: the one-Layer switch. `@async-ops/service`'s `Periodic` and `Supervisor` take
 * it through their `singleton` option.
 *
 * @see https://kubernetes.io/docs/concepts/architecture/leases/
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as internal from "./internal/election.ts"

/**
 * The lease of a key was lost while its job ran: it could not be refreshed in time (the lease store unreachable,
 * slow or partitioned) or another holder owns it now. The job was interrupted before the lease ran out.
 *
 * **When to use**: `Election.runSingleton` (and the `singleton` options of `Periodic` and `Supervisor`) catch it and
 * campaign again; catch it yourself around `withLeadership` to do the same.
 *
 * The one lease-lost error of async-ops: elections fail with it (`limiter` absent), and so does `@async-ops/redis`'s
 * `DistributedLimiter` when a permit's lease is lost (`limiter` names the limiter, `key` is its key, `""` for a plain
 * one). One `catchTag("LeaseLostError", …)` therefore handles both, with one `reason` union:
 * - `"taken"`: the store answered that another holder owns the key (an election lost to another token);
 * - `"expired"`: the store answered that the lease is gone (it expired, or the store restarted empty);
 * - `"expiring"`: no refresh was confirmed in time (store unreachable or paused), so the holder stopped itself
 *   before its lease could run out.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Election } from "@async-ops/core"
 *
 * const job = Effect.never
 * const program = Election.withLeadership("reports", job).pipe(
 *   Effect.catchTag("LeaseLostError", (e) => Effect.log(`lost ${e.key}: ${e.reason}`))
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class LeaseLostError extends Data.TaggedError("LeaseLostError")<{
  /** The election key, or the key of a keyed distributed limiter (`""` for a plain one). */
  readonly key: string
  /** Why: see {@link LeaseLostReason}. */
  readonly reason: LeaseLostReason
  /** The distributed limiter whose permit was lost; absent for an election. */
  readonly limiter?: string | undefined
}> {
  override get message(): string {
    const why = this.reason === "taken"
      ? "taken by another holder"
      : this.reason === "expired"
      ? "expired in the store"
      : "could not be refreshed in time (store unreachable)"
    return this.limiter === undefined
      ? `Lease of "${this.key}" lost (${this.reason}: ${why})`
      : `DistributedLimiter ${this.limiter}${
        this.key === "" ? "" : ` (${this.key})`
      }: lease lost (${this.reason}: ${why}); the work was interrupted`
  }
}

/**
 * Why a {@link LeaseLostError} was raised: `"taken"` (another holder owns the key), `"expired"` (the store answered
 * that the lease is gone) or `"expiring"` (no refresh was confirmed in time, so the holder stopped before its lease
 * could run out).
 *
 * @example
 * ```ts
 * import type { Election } from "@async-ops/core"
 *
 * const retryable = (reason: Election.LeaseLostReason): boolean => reason !== "taken"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type LeaseLostReason = "taken" | "expired" | "expiring"

/**
 * Whether a value is a {@link LeaseLostError}.
 *
 * @category guards
 * @since 0.1.0
 */
export const isLeaseLostError = (u: unknown): u is LeaseLostError => u instanceof LeaseLostError

/**
 * A snapshot of an election service's counters in this process.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  /** `"local"` (in-process) or the name of the shared store (`"redis"`). */
  readonly backend: string
  /** Keys this process leads now. */
  readonly leading: ReadonlyArray<string>
  /** Keys this process campaigns for now (waiting for the lease). */
  readonly campaigning: ReadonlyArray<string>
  /** Leases won, in total. */
  readonly acquired: number
  /** Leases lost under a running job, in total. */
  readonly lost: number
}

/**
 * An election service: who may run the job of a key.
 *
 * @category models
 * @since 0.1.0
 */
export interface Election {
  /**
   * Waits until this process holds the lease of `key`, runs `effect` while holding it, and releases it when the
   * effect ends (in any way). If the lease is lost while the effect runs, the effect is interrupted and the call
   * fails with {@link LeaseLostError}.
   */
  readonly withLeadership: <A, E, R>(
    key: string,
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | LeaseLostError, R>
  /** This process's counters. */
  readonly stats: Effect.Effect<Stats>
}

/**
 * The election service in use: a `Context.Reference` whose default is the in-process election ({@link makeLocal}:
 * one runner per key in this process). Provide another one (`RedisElection.layer` from `@async-ops/redis`) to
 * elect across processes.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Election } from "@async-ops/core"
 *
 * // explicit in-process election (the default anyway)
 * const LocalElection = Layer.succeed(Election.Election, Election.makeLocal())
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export const Election: Context.Reference<Election> = Context.Reference<Election>(
  "@async-ops/core/Election",
  { defaultValue: () => internal.defaultLocal }
)

/**
 * An in-process election: one holder per key among the fibers of this process (FIFO), never lost.
 *
 * **When to use**: the default; tests; a single-replica deployment. For several replicas provide
 * `RedisElection.layer` instead.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Election } from "@async-ops/core"
 *
 * const election = Election.makeLocal()
 * const program = election.withLeadership("k", Effect.succeed(1)) // 1
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeLocal: () => Election = internal.makeLocal

/**
 * Runs `effect` with the lease of `key` from the {@link Election} in context (see {@link Election.withLeadership}).
 *
 * **When to use**: a one-shot job that must not run in two places at once (a migration, a report).
 *
 * **Gotchas**: the caller waits, without a bound, while another process holds the lease: add a timeout if that
 * matters.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Election } from "@async-ops/core"
 *
 * const program = Election.withLeadership("nightly-report", Effect.log("only one of us writes it"))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withLeadership = <A, E, R>(
  key: string,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | LeaseLostError, R> => Effect.flatMap(Election, (e) => e.withLeadership(key, effect))

/**
 * Runs a long-lived `effect` as a singleton of `key`: campaigns for the lease, runs the effect while leading, and
 * campaigns again whenever the lease is lost ({@link LeaseLostError} is caught and logged). It ends when the effect
 * ends with a success or a failure of its own.
 *
 * **When to use**: a background job that must run in exactly one replica and move to another when that one dies
 * (what `Periodic`'s and `Supervisor`'s `singleton` options use).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Election } from "@async-ops/core"
 *
 * const consumer = Effect.never // e.g. a change-feed follower
 * const program = Election.runSingleton("feed-follower", consumer)
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const runSingleton = <A, E, R>(key: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  internal.runSingleton(key, effect, withLeadership)

/**
 * The counters of the {@link Election} in context.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Election } from "@async-ops/core"
 *
 * const leading = Effect.map(Election.stats, (s) => s.leading)
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const stats: Effect.Effect<Stats> = Effect.flatMap(Election, (e) => e.stats)
