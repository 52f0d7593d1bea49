/**
 * `async-ops fetch <file|->`: the seed's `fetch_all` / `fetch_with_limit` as a command. It reads URLs (one per line,
 * blank lines and `#` comments skipped), fetches them through the resilient client (`@async-ops/http`: connection
 * caps per host, timeouts, retries with `Retry-After`, an optional rate limit per host, a body size cap, redirects
 * followed up to `--max-redirects`, 10 by default as in aiohttp) with `Gather.asCompleted`, and writes **exactly one
 * JSON Lines record per input**, malformed URLs included, in completion order (or input order with `--ordered`).
 * Each record is written as soon as it is known; a response's body is dropped as soon as its record is encoded, so
 * memory holds what is in flight plus one short line per input (what `--resume` and the summary need), never bodies.
 *
 * Stopping: the first SIGINT or SIGTERM stops starting new requests, lets the ones in flight finish for at most
 * `--grace` (default 5 s; the rest are cut off and get no record), writes what finished and exits with **130**
 * (SIGINT) or **143** (SIGTERM); a second signal exits at once. `--resume` then reads the output file, drops a cut-off
 * last line, and fetches only the inputs without a record. The guarantee: a recorded input is never fetched again; a
 * request cut off at the grace deadline may already have reached the server, and `--resume` fetches it again
 * (at-least-once). The stop line on stderr counts the cut-off ones. When the process group's leader goes away while
 * the process that started `fetch` still waits (a SIGTERM to `npx` that pnpm's shims do not pass on), it stops the
 * same way and exits 129; a `fetch` whose parent is gone too (`cmd &` in a script, `nohup`) keeps running.
 *
 * Output: a closed stdout (`fetch urls.txt | head -2`) stops the run quietly (in-flight requests interrupted, no
 * message, exit 141 as for SIGPIPE); a full disk or another write error is one line naming the file and the OS
 * reason, exit 2, with every record written before it intact.
 *
 * Exit codes: 0 when every input has a record (whatever its outcome), 2 for bad input or an output that cannot be
 * written (a one-line error on stderr), 130/143 after a stop by signal, 141 when stdout was closed, 1 for an
 * unexpected failure.
 *
 * @since 0.1.0
 */
import type * as Result from "effect/Result"
import { command as commandDefinition } from "./internal/command/fetch.ts"
import * as internal from "./internal/fetch.ts"

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
export const command: typeof commandDefinition = commandDefinition
