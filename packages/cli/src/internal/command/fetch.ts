/**
 * The `fetch` command's flags and description, with its implementation (`../fetch.ts`) loaded when the command runs:
 * `async-ops --help`, `--version` and the other commands do not load it.
 *
 * @internal
 */
import { Argument, Command, Flag } from "effect/cli"
import * as Effect from "effect/Effect"
import { MAX_REDIRECTS, MAX_RETRIES } from "../limits.ts"
import { StoppedError } from "../usage.ts"
import { withDefault } from "./described.ts"
import * as Flags from "./flags.ts"

const load = Effect.promise(() => import("../fetch.ts"))

/** @internal */
export const command = Command.make("fetch", {
  input: Argument.String("input").pipe(
    Argument.withDescription(
      "The URL list: a file with one URL per line (# comments, blank lines skipped), or - for stdin"
    )
  ),
  out: Flag.String("out").pipe(
    Flag.withAlias("o"),
    Flag.withDescription(
      "Write the JSON Lines records to this file (default: stdout; a closed stdout, as with | head, stops quietly)"
    ),
    Flag.optional
  ),
  ordered: Flag.Boolean("ordered").pipe(
    Flag.withDescription("Write records in input order instead of completion order"),
    Flag.withDefault(false)
  ),
  concurrency: Flags.concurrency(50),
  perHost: Flags.perHost(8),
  timeout: Flag.String("timeout").pipe(
    withDefault("Timeout of each attempt: 500ms, 2s, 1m or milliseconds (> 0)", "10s")
  ),
  retries: Flag.Int("retries").pipe(
    withDefault(
      `Retries of a failed idempotent request: connection errors, timeouts, 408/429/5xx (0-${MAX_RETRIES})`,
      2
    )
  ),
  rate: Flag.Int("rate").pipe(
    Flag.withDescription("Requests per second per host (>= 1; default: no limit)"),
    Flag.optional
  ),
  maxBytes: Flag.Int("max-bytes").pipe(
    withDefault("Largest body accepted, bytes (larger: BodyTooLargeError)", 10 * 1024 * 1024, "10485760, 10 MiB")
  ),
  headers: Flag.String("header").pipe(
    Flag.withAlias("H"),
    Flag.withDescription(`A request header "Name: value" (repeatable)`),
    Flag.atLeast(0)
  ),
  method: Flag.String("method").pipe(
    Flag.withAlias("X"),
    withDefault("HTTP method: GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS", "GET")
  ),
  resume: Flag.Boolean("resume").pipe(
    Flag.withDescription(
      "Skip inputs that already have a record in --out and append the rest. A recorded input is never fetched again; " +
        "a request cut off at the --grace deadline has no record and is fetched again (at least once)"
    ),
    Flag.withDefault(false)
  ),
  quiet: Flag.Boolean("quiet").pipe(Flag.withAlias("q"), Flag.withDescription("No progress"), Flag.withDefault(false)),
  maxRedirects: Flag.Int("max-redirects").pipe(
    withDefault(
      `Redirects followed per request; 0 turns following off and a 3xx is then recorded as not ok (0-${MAX_REDIRECTS})`,
      10
    )
  ),
  grace: Flag.String("grace").pipe(
    withDefault("After SIGINT/SIGTERM, how long requests in flight may finish before they are cut off", "5s")
  ),
  report: Flags.report
}, (flags) =>
  Effect.gen(function*() {
    const summary = yield* (yield* load).run({
      input: flags.input,
      out: flags.out._tag === "Some" ? flags.out.value : undefined,
      ordered: flags.ordered,
      concurrency: flags.concurrency,
      perHost: flags.perHost,
      timeout: flags.timeout,
      retries: flags.retries,
      rate: flags.rate._tag === "Some" ? flags.rate.value : undefined,
      maxBytes: flags.maxBytes,
      headers: flags.headers,
      method: flags.method,
      resume: flags.resume,
      quiet: flags.quiet,
      grace: flags.grace,
      maxRedirects: flags.maxRedirects,
      report: flags.report._tag === "Some" ? flags.report.value : undefined
    })
    if (summary.stoppedBy !== undefined) {
      return yield* new StoppedError({
        signal: summary.stoppedBy,
        exitCode: summary.exitCode,
        reason: `stopped by ${summary.stoppedBy}: ${summary.written} records written, ` +
          `${summary.inputs - summary.skipped - summary.written} inputs left for --resume, ` +
          `${summary.cutOff} of them cut off at the grace deadline (they may have reached the server; --resume ` +
          `fetches them again)`
      })
    }
  })).pipe(
    Command.withDescription("Fetch a list of URLs through the resilient client; one JSON Lines record per input")
  )
