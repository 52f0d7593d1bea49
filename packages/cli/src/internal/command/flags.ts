/**
 * The flags several commands share, defined once so their name, alias and description cannot drift apart: each
 * command passes only its own default.
 *
 * @internal
 */
import { Flag } from "effect/cli"
import { withDefault } from "./described.ts"

/** `--concurrency`/`-c`: requests in flight at once (`fetch`, `demo`). @internal */
export const concurrency = (value: number) =>
  Flag.Int("concurrency").pipe(
    Flag.withAlias("c"),
    withDefault("Requests in flight at once (>= 1)", value)
  )

/** `--per-host`: connections per host (`fetch`, `demo`). @internal */
export const perHost = (value: number) => Flag.Int("per-host").pipe(withDefault("Connections per host (>= 1)", value))

/** `--report`: where to write the run's HTML report (`fetch`, `demo`). @internal */
export const report = Flag.String("report").pipe(
  Flag.withDescription("Write an HTML report of the run here"),
  Flag.optional
)
