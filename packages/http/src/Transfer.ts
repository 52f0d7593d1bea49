/**
 * Streaming file transfers over Effect's `HttpClient`: aiohttp's download loop (`async for chunk in
 * resp.content.iter_chunked(...)` into an `aiofiles` file) and `FormData` uploads (`data.add_field("file",
 * open(path, "rb"))`), with what the Python recipes leave out: a size cap enforced while streaming, an atomic
 * rename so a reader never sees half a file, no partial or temporary file and no open socket or file handle after a
 * failure or an interruption, and typed errors.
 *
 * - {@link download} streams a response body to `<path>.<random>.part` in the target's directory, fsyncs and closes
 *   it, then renames it to `path`. Memory stays constant (one chunk at a time, with backpressure from the disk).
 * - {@link upload} sends `multipart/form-data` with text fields and files read from disk chunk by chunk, with an
 *   exact `Content-Length`; {@link uploadFile} sends one file as the raw body.
 *
 * Both use the `HttpClient` and `FileSystem` in context (`NodeHttpClient.layerUndici` and `NodeFileSystem.layer` on
 * Node). Errors reuse `HttpResilienceError`'s taxonomy (`MalformedUrlError`, `ConnectError`, `ConnectionLostError`,
 * `StatusError`, `BodyTooLargeError`) plus {@link TargetExistsError} and {@link FileSystemError}.
 *
 * @see `HttpClient`, `HttpBody.stream` (`effect/http`) and `FileSystem` (`effect/FileSystem`), which it builds on
 * @see https://docs.aiohttp.org/en/stable/client_quickstart.html#streaming-response-content
 * @since 0.1.0
 */
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import type * as Effect from "effect/Effect"
import type * as FileSystem from "effect/FileSystem"
import type * as Headers from "effect/http/Headers"
import type * as HttpClient from "effect/http/HttpClient"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as Schedule from "effect/Schedule"
import type * as SubscriptionRef from "effect/SubscriptionRef"
import type * as HttpResilienceError from "./HttpResilienceError.ts"
import * as internal from "./internal/transfer.ts"

// ---------------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------------

/**
 * The download target already exists and `overwrite` is off. Checked before the request is sent, and again
 * atomically when the finished file is moved into place (a file that appeared meanwhile is not replaced).
 *
 * @category errors
 * @since 0.1.0
 */
export const TargetExistsError = internal.TargetExistsError
/**
 * @category errors
 * @since 0.1.0
 */
export type TargetExistsError = internal.TargetExistsError

/**
 * A file operation failed: `operation` (`"stat"`, `"open"`, `"write"`, `"sync"`, `"read"`, `"rename"`, `"link"`),
 * the `path`, the platform's `reason` tag (`"NotFound"`, `"PermissionDenied"`, … or `"NotAFile"`) and the `cause`.
 *
 * @category errors
 * @since 0.1.0
 */
export const FileSystemError = internal.FileSystemError
/**
 * @category errors
 * @since 0.1.0
 */
export type FileSystemError = internal.FileSystemError

/**
 * Every way a transfer can fail: a union on `_tag`, for `Effect.catchTag` / `catchTags`. Bad options fail with core's
 * `InvalidOptionError` and a malformed URL with `MalformedUrlError`, both before any I/O. A status outside 200-299
 * fails with `StatusError` (the first 64 KiB of its body in `body`); a body over the cap with `BodyTooLargeError`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Transfer } from "@async-ops/http"
 *
 * const fetchReport = Transfer.download("http://127.0.0.1:8080/report.csv", "/tmp/report.csv").pipe(
 *   Effect.map((d) => d.bytes),
 *   Effect.catchTags({
 *     TargetExistsError: () => Effect.succeed(0),
 *     StatusError: (e) => Effect.fail(`server said ${e.status}`)
 *   })
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type TransferError =
  | InvalidOptionError
  | HttpResilienceError.MalformedUrlError
  | HttpResilienceError.ConnectError
  | HttpResilienceError.ConnectionLostError
  | HttpResilienceError.StatusError
  | HttpResilienceError.BodyTooLargeError
  | TargetExistsError
  | FileSystemError

// ---------------------------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------------------------

/**
 * How far a transfer is: `bytes` so far and `total` when known (the response's `Content-Length` for a download,
 * the body's length for an upload).
 *
 * @category models
 * @since 0.1.0
 */
export interface Progress {
  readonly bytes: number
  readonly total: number | undefined
}

/**
 * Where progress goes: a function called after every chunk (its Effect runs before the next chunk is read, so keep
 * it cheap), or a `SubscriptionRef` that is set after every chunk (subscribe to its `changes` to render a bar).
 * Each attempt of a retried transfer starts again from 0.
 *
 * @category models
 * @since 0.1.0
 */
export type ProgressSink = ((progress: Progress) => Effect.Effect<void>) | SubscriptionRef.SubscriptionRef<Progress>

/**
 * A retry policy for transfers (opt-in: nothing is retried by default). Only transient failures are retried:
 * `ConnectError`, `ConnectionLostError` and a `StatusError` of 408, 429 or 5xx. A retried download starts over in a new
 * temporary file; a retried upload re-reads its files from the start.
 *
 * @category models
 * @since 0.1.0
 */
export type RetryPolicy = Schedule.Schedule<unknown, TransferError>

/**
 * Options of {@link download}. Invalid values fail with `InvalidOptionError` naming the option.
 *
 * @category models
 * @since 0.1.0
 */
export interface DownloadOptions {
  /**
   * The largest body accepted, in bytes (an integer >= 0, or `Infinity`). Default `Infinity`. A larger
   * `Content-Length` fails before any byte is read; a body without one fails as soon as it passes the cap.
   */
  readonly maxBytes?: number | undefined
  /** Replace an existing file at `path`. Default `false`: an existing file fails with {@link TargetExistsError}. */
  readonly overwrite?: boolean | undefined
  /** Progress reports. Default: none. */
  readonly progress?: ProgressSink | undefined
  /** Extra request headers. Default: none. */
  readonly headers?: Headers.Input | undefined
  /** Retry transient failures. Default: no retry. */
  readonly retry?: RetryPolicy | undefined
}

/**
 * What {@link download} wrote: the target `path`, the body size in `bytes`, the response `status`, the request
 * `url`, its `contentType` and `headers`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Downloaded {
  readonly path: string
  readonly bytes: number
  readonly status: number
  readonly url: string
  readonly contentType: string | undefined
  readonly headers: Headers.Headers
}

/**
 * One part of a multipart upload: a text field or a file on disk. Build them with {@link field} and {@link file}.
 *
 * @category models
 * @since 0.1.0
 */
export type Part = internal.Part

/**
 * Options of {@link upload} and {@link uploadFile}. Invalid values fail with `InvalidOptionError`.
 *
 * @category models
 * @since 0.1.0
 */
export interface UploadOptions {
  /** The request method (an HTTP token). Default `"POST"`. */
  readonly method?: string | undefined
  /** Extra request headers (`Content-Type` and `Content-Length` are set from the body). Default: none. */
  readonly headers?: Headers.Input | undefined
  /** Progress of the body sent. Default: none. */
  readonly progress?: ProgressSink | undefined
  /** Retry transient failures. Default: no retry (an upload is usually not idempotent). */
  readonly retry?: RetryPolicy | undefined
  /** The largest response body read into `body`, in bytes (an integer >= 0 or `Infinity`). Default 1 MiB. */
  readonly maxResponseBytes?: number | undefined
}

/**
 * Options of {@link uploadFile}: {@link UploadOptions} and the body's `contentType` (default
 * `"application/octet-stream"`).
 *
 * @category models
 * @since 0.1.0
 */
export interface UploadFileOptions extends UploadOptions {
  readonly contentType?: string | undefined
}

/**
 * The server's answer to an upload: `status`, `headers`, the response `body` as text, the request `url` and the
 * request body size in `bytes`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Uploaded {
  readonly status: number
  readonly url: string
  readonly bytes: number
  readonly headers: Headers.Headers
  readonly body: string
}

// ---------------------------------------------------------------------------------------------------------------
// Download
// ---------------------------------------------------------------------------------------------------------------

/**
 * Downloads a URL (or a prepared `HttpClientRequest`) to the file `path`. The body streams into
 * `<path>.<random>.part` in the same directory, is fsynced and closed, then moved to `path` atomically (`rename`,
 * or with `overwrite: false` a hard link that refuses to replace a file). Returns what was written.
 *
 * **When to use**: any body you do not want in memory, or a file that must never be seen half-written.
 *
 * **Gotchas**:
 * - Failure, `maxBytes`, or interruption at any point deletes the temporary file, closes the file handle and
 *   aborts the request (its socket is closed, not returned to the pool), and leaves `path` untouched.
 * - The `HttpClient` in context is used as is: redirects are followed only if it follows them, and a timeout is
 *   yours to add (`Effect.timeout` is safe: it interrupts). `HttpResilience`'s client buffers whole bodies, so it
 *   is not the transport here; share its error handling through the common error tags.
 * - `maxBytes` counts body bytes as decoded by the transport.
 *
 * @example
 * ```ts
 * import { NodeFileSystem, NodeHttpClient } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import { Transfer } from "@async-ops/http"
 *
 * const program = Transfer.download("http://127.0.0.1:8080/big.iso", "/tmp/big.iso", {
 *   maxBytes: 4 * 1024 ** 3,
 *   progress: (p) => Effect.log(`${p.bytes} / ${p.total ?? "?"}`)
 * }).pipe(Effect.provide(Layer.merge(NodeHttpClient.layerUndici, NodeFileSystem.layer)))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const download: (
  source: string | URL | HttpClientRequest.HttpClientRequest,
  path: string,
  options?: DownloadOptions
) => Effect.Effect<Downloaded, TransferError, HttpClient.HttpClient | FileSystem.FileSystem> = internal.download

// ---------------------------------------------------------------------------------------------------------------
// Upload
// ---------------------------------------------------------------------------------------------------------------

/**
 * A text field of a multipart upload.
 *
 * @example
 * ```ts
 * import { Transfer } from "@async-ops/http"
 *
 * const part = Transfer.field("title", "Quarterly report")
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const field: (name: string, value: string) => Part = internal.field

/**
 * A file part of a multipart upload, read from `path` when the request is sent. `filename` defaults to the path's
 * last segment, `contentType` to `"application/octet-stream"`.
 *
 * @example
 * ```ts
 * import { Transfer } from "@async-ops/http"
 *
 * const part = Transfer.file("report", "/tmp/q3.csv", { contentType: "text/csv" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const file: (
  name: string,
  path: string,
  options?: { readonly filename?: string | undefined; readonly contentType?: string | undefined }
) => Part = internal.file

/**
 * Uploads `parts` as `multipart/form-data` (POST by default). Files are stated first (a missing file fails with
 * {@link FileSystemError} before the request), then streamed from disk in chunks while the request is sent, with an
 * exact `Content-Length`. A status outside 200-299 fails with `StatusError`.
 *
 * **When to use**: HTML-form style uploads of one or more files with fields, of any size.
 *
 * **Gotchas**:
 * - Not retried unless you pass `retry` (a POST is not idempotent); a retry re-reads the files.
 * - A file that changes size while it is sent breaks the request (`ConnectionLostError`): the length was fixed up front.
 * - The body is encoded here (not by the transport) so that every `HttpClient` streams it with the same bytes.
 *
 * @example
 * ```ts
 * import { NodeFileSystem, NodeHttpClient } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import { Transfer } from "@async-ops/http"
 *
 * const program = Transfer.upload("http://127.0.0.1:8080/upload", [
 *   Transfer.field("title", "Q3"),
 *   Transfer.file("report", "/tmp/q3.csv", { contentType: "text/csv" })
 * ]).pipe(
 *   Effect.map((res) => res.status),
 *   Effect.provide(Layer.merge(NodeHttpClient.layerUndici, NodeFileSystem.layer))
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const upload: (
  url: string | URL,
  parts: ReadonlyArray<Part>,
  options?: UploadOptions
) => Effect.Effect<Uploaded, TransferError, HttpClient.HttpClient | FileSystem.FileSystem> = internal.upload

/**
 * Uploads one file as the raw request body (POST by default; pass `method: "PUT"` for object stores), with
 * `Content-Type` from `contentType` and `Content-Length` from the file's size, streamed from disk.
 *
 * **When to use**: presigned-URL uploads, APIs that take a body rather than a form.
 *
 * @example
 * ```ts
 * import { NodeFileSystem, NodeHttpClient } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import { Transfer } from "@async-ops/http"
 *
 * const program = Transfer.uploadFile("http://127.0.0.1:8080/blobs/q3", "/tmp/q3.csv", {
 *   method: "PUT",
 *   contentType: "text/csv"
 * }).pipe(Effect.provide(Layer.merge(NodeHttpClient.layerUndici, NodeFileSystem.layer)))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const uploadFile: (
  url: string | URL,
  path: string,
  options?: UploadFileOptions
) => Effect.Effect<Uploaded, TransferError, HttpClient.HttpClient | FileSystem.FileSystem> = internal.uploadFile
