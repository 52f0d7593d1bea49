/**
 * The error every command fails with for bad input (a flag out of range, a missing file, an unreadable line, a
 * port in use): the root runner prints its message on one line and exits with code 2.
 *
 * @internal
 */
import * as Data from "effect/Data"

/** @internal */
export class UsageError extends Data.TaggedError("UsageError")<{
  /** One line naming the problem, without the `async-ops` prefix. */
  readonly reason: string
}> {
  override get message(): string {
    return this.reason
  }
}

/** @internal */
export class StoppedError extends Data.TaggedError("StoppedError")<{
  /** What stopped it: `"SIGINT"`, `"SIGTERM"`, or a shutdown trigger's reason. */
  readonly signal: string
  /** 130 for SIGINT, 143 for SIGTERM; for `serve`, the shutdown report's code. */
  readonly exitCode: number
  /** One line saying what was done. */
  readonly reason: string
}> {
  override get message(): string {
    return this.reason
  }
}
