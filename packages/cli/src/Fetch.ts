/**
 * `async-ops fetch <file|->`: the seed's `fetch_all` / `fetch_with_limit` as a command. It reads URLs (one per line,
 * blank lines and `#` comments skipped), fetches them through the resilient client (`@async-ops/http`: connection
 * caps per host, timeouts, retries with `Retry-After`, an optional rate limit per host, a body size cap) with
 * `FetchAll.stream`, and writes **exactly one JSON Lines record per input**, malformed URLs included, in completion
 * order (or input order with `--ordered`). Each record is written and flushed as soon as it is known.
 *
 * Stopping: the first SIGINT or SIGTERM stops starting new requests, lets the ones in flight finish for at most
 * `--grace` (default 5 s; the rest are cut off and get no record), writes what finished and exits with **130**
 * (SIGINT) or **143** (SIGTERM); a second signal exits at once. `--resume` then reads the output file, drops a cut-off
 * last line, and fetches only the inputs without a record, so a stopped run finishes without fetching anything twice.
 *
 * Exit codes: 0 when every input has a record (whatever its outcome), 2 for bad input (a one-line error on stderr),
 * 130/143 after a stop by signal, 1 for an unexpected failure.
 *
 * @since 0.1.0
 */
import { Argument, Command, Flag } from "effect/cli"
import * as Effect from "effect/Effect"
import type * as Result from "effect/Result"
import * as internal from "./internal/fetch.ts"
import { StoppedError } from "./internal/usage.ts"

/**
 * One input of a URL list: its 1-based line number and the trimmed text (not validated: a malformed URL gets an
 * `MalformedUrlError` record, not a crash).
 *
 * @category models
 * @since 0.1.0
 */
export type UrlEntry = internal.UrlEntry

/**
 * A line of the URL list that cannot be read as text (invalid UTF-8, a NUL byte): the command exits with code 2
 * naming the line, before fetching anything.
 *
 * @category errors
 * @since 0.1.0
 */
export const UnreadableLineError = internal.UnreadableLineError

/**
 * @category errors
 * @since 0.1.0
 */
export type UnreadableLineError = internal.UnreadableLineError

/**
 * A record in the output file that `--resume` cannot use: not JSON, or for a URL other than the input's at that line
 * (the output belongs to another input file).
 *
 * @category errors
 * @since 0.1.0
 */
export const ResumeMismatchError = internal.ResumeMismatchError

/**
 * @category errors
 * @since 0.1.0
 */
export type ResumeMismatchError = internal.ResumeMismatchError

/**
 * One output record (one JSON line): the input `line` and `url`; `ok`; the HTTP `status` (also for a `StatusError`,
 * `null` when no response came); `error`, the kind of failure (`"MalformedUrlError"`, `"StatusError"`,
 * `"ConnectError"`, `"ConnectionLostError"`, `"RequestTimeoutError"`, `"BodyTooLargeError"`, `"CircuitOpenError"`,
 * ...) or `null`; its `message`; body `bytes`; `ms`, the wall time of the whole call (retries and waits included,
 * 0.1 ms resolution); and `attempts`, the requests sent (0 when none was: a malformed URL).
 *
 * @category models
 * @since 0.1.0
 */
export type FetchRecord = internal.FetchRecord

/**
 * Parses a URL list: one URL per line, surrounding whitespace trimmed, blank lines and lines starting with `#`
 * skipped, `\r\n` accepted. Fails with {@link UnreadableLineError} for a line that is not valid UTF-8 or holds a
 * NUL byte.
 *
 * **When to use**: to read the same inputs `fetch` reads (tests, a wrapper script).
 *
 * @example
 * ```ts
 * import { Fetch } from "@async-ops/cli"
 *
 * Fetch.parseUrlList("# seeds\nhttp://a.test/1\n\n  http://a.test/2  \n")
 * // Result.succeed([{ line: 2, url: "http://a.test/1" }, { line: 4, url: "http://a.test/2" }])
 * ```
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseUrlList: (input: Uint8Array | string) => Result.Result<Array<UrlEntry>, UnreadableLineError> =
  internal.parseUrlList

/**
 * What `--resume` learns from an existing output file: the input lines that have a record, and how many bytes of
 * the file are complete records (a last line without its newline was cut off by a stop and is dropped, so that
 * input is fetched again).
 *
 * @category models
 * @since 0.1.0
 */
export type ResumeState = internal.ResumeState

/**
 * Reads an output file for `--resume` against the inputs it was written for. Blank lines are skipped; a complete
 * line that is not a record of one of `entries` fails with {@link ResumeMismatchError}.
 *
 * **Gotchas**: records are matched by input line number and URL, so duplicate URLs on different lines are fetched
 * once each, and editing the input file between runs is detected.
 *
 * @example
 * ```ts
 * import { Fetch } from "@async-ops/cli"
 *
 * const entries = [{ line: 1, url: "http://a.test/1" }, { line: 2, url: "http://a.test/2" }]
 * Fetch.readResume('{"line":1,"url":"http://a.test/1"}\n{"line":2,"ur', entries)
 * // Result.succeed({ done: Set {1}, validBytes: 35, truncatedTail: true })
 * ```
 *
 * @category parsing
 * @since 0.1.0
 */
export const readResume: (
  output: Uint8Array | string,
  entries: ReadonlyArray<UrlEntry>
) => Result.Result<ResumeState, ResumeMismatchError> = internal.readResume

/**
 * Encodes a record as one JSON line (with its `\n`), keys in a fixed order, `ms` rounded to 0.1.
 *
 * @example
 * ```ts
 * import { Fetch } from "@async-ops/cli"
 *
 * Fetch.encodeRecord({
 *   line: 3, url: "http://a.test/", ok: true, status: 200, error: null, message: null, bytes: 2, ms: 1.234, attempts: 1
 * })
 * // '{"line":3,"url":"http://a.test/","ok":true,"status":200,"error":null,"message":null,"bytes":2,"ms":1.2,"attempts":1}\n'
 * ```
 *
 * @category encoding
 * @since 0.1.0
 */
export const encodeRecord: (record: FetchRecord) => string = internal.encodeRecord

/**
 * The `fetch` command. Flags: `--out/-o FILE` (default stdout), `--ordered`, `--concurrency/-c N` (requests in
 * flight, default 50), `--per-host N` (connections per host, default 8), `--timeout D` (per attempt, default `10s`;
 * `500ms`, `2s`, `1m` or milliseconds), `--retries N` (default 2), `--rate N` (requests per second per host),
 * `--max-bytes N` (body cap, default 10 MiB), `--header/-H "K: V"` (repeatable), `--method/-X M` (default GET),
 * `--resume` (needs `--out`), `--quiet/-q` (no progress), `--grace D` (drain time after a signal, default `5s`).
 *
 * **When to use**: add it to a root command with `Command.withSubcommands`; `Cli.command` already does.
 *
 * **Gotchas**: progress is drawn on stderr only when stderr is a terminal. A stop by signal fails the command with
 * `StoppedError` (exit 130/143) after the records are flushed.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Command } from "effect/cli"
 * import { Fetch } from "@async-ops/cli"
 *
 * const program = Command.runWith(Fetch.command, { version: "0.1.0" })(["urls.txt", "--out", "out.jsonl"]).pipe(
 *   Effect.provide(NodeServices.layer)
 * )
 * ```
 *
 * @category commands
 * @since 0.1.0
 */
export const command = Command.make("fetch", {
  input: Argument.String("input").pipe(
    Argument.withDescription(
      "The URL list: a file with one URL per line (# comments, blank lines skipped), or - for stdin"
    )
  ),
  out: Flag.String("out").pipe(
    Flag.withAlias("o"),
    Flag.withDescription("Write the JSON Lines records to this file (default: stdout)"),
    Flag.optional
  ),
  ordered: Flag.Boolean("ordered").pipe(
    Flag.withDescription("Write records in input order instead of completion order"),
    Flag.withDefault(false)
  ),
  concurrency: Flag.Int("concurrency").pipe(
    Flag.withAlias("c"),
    Flag.withDescription("Requests in flight at once (>= 1)"),
    Flag.withDefault(50)
  ),
  perHost: Flag.Int("per-host").pipe(Flag.withDescription("Connections per host (>= 1)"), Flag.withDefault(8)),
  timeout: Flag.String("timeout").pipe(
    Flag.withDescription("Timeout of each attempt: 500ms, 2s, 1m or milliseconds"),
    Flag.withDefault("10s")
  ),
  retries: Flag.Int("retries").pipe(
    Flag.withDescription("Retries of a failed idempotent request (connection errors, timeouts, 408/429/5xx)"),
    Flag.withDefault(2)
  ),
  rate: Flag.Int("rate").pipe(Flag.withDescription("Requests per second per host (>= 1)"), Flag.optional),
  maxBytes: Flag.Int("max-bytes").pipe(
    Flag.withDescription("Largest body accepted, bytes (larger: BodyTooLargeError)"),
    Flag.withDefault(10 * 1024 * 1024)
  ),
  headers: Flag.String("header").pipe(
    Flag.withAlias("H"),
    Flag.withDescription(`A request header "Name: value" (repeatable)`),
    Flag.atLeast(0)
  ),
  method: Flag.String("method").pipe(
    Flag.withAlias("X"),
    Flag.withDescription("HTTP method: GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS"),
    Flag.withDefault("GET")
  ),
  resume: Flag.Boolean("resume").pipe(
    Flag.withDescription("Skip inputs that already have a record in --out and append the rest"),
    Flag.withDefault(false)
  ),
  quiet: Flag.Boolean("quiet").pipe(Flag.withAlias("q"), Flag.withDescription("No progress"), Flag.withDefault(false)),
  grace: Flag.String("grace").pipe(
    Flag.withDescription("After SIGINT/SIGTERM, how long requests in flight may finish"),
    Flag.withDefault("5s")
  )
}, (flags) =>
  Effect.gen(function*() {
    const summary = yield* internal.run({
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
      grace: flags.grace
    })
    if (summary.stoppedBy !== undefined) {
      return yield* new StoppedError({
        signal: summary.stoppedBy,
        exitCode: summary.exitCode,
        reason: `stopped by ${summary.stoppedBy}: ${summary.written} records written, ` +
          `${summary.inputs - summary.skipped - summary.written} inputs left for --resume`
      })
    }
  })).pipe(
    Command.withDescription("Fetch a list of URLs through the resilient client; one JSON Lines record per input")
  )
