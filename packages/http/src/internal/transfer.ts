/**
 * Streaming transfers: a download to a temporary file renamed into place, and multipart / raw-file uploads read
 * from disk chunk by chunk.
 *
 * @internal
 */
import * as InvalidOption from "@async-ops/core/InvalidOption"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FileSystem from "effect/FileSystem"
import type * as Headers from "effect/http/Headers"
import * as HttpBody from "effect/http/HttpBody"
import * as HttpClient from "effect/http/HttpClient"
import type * as HttpClientError from "effect/http/HttpClientError"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import type * as PlatformError from "effect/PlatformError"
import * as Random from "effect/Random"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import {
  BodyTooLargeError,
  ConnectError,
  ConnectionLostError,
  MalformedUrlError,
  StatusError
} from "../HttpResilienceError.ts"
import type {
  Downloaded,
  DownloadOptions,
  Progress,
  ProgressSink,
  RetryPolicy,
  TransferError,
  Uploaded,
  UploadFileOptions,
  UploadOptions
} from "../Transfer.ts"
import { collectBounded, contentLength } from "./body.ts"
import { CONNECT_CODES, parseRetryAfter } from "./classify.ts"

// ---------------------------------------------------------------------------------------------------------------
// Errors and models
// ---------------------------------------------------------------------------------------------------------------

/** @internal */
export class TargetExistsError extends Data.TaggedError("TargetExistsError")<{
  readonly path: string
}> {
  override get message(): string {
    return `${this.path} already exists (pass overwrite: true to replace it)`
  }
}

/** @internal */
export type FileOperation = "stat" | "open" | "write" | "sync" | "read" | "rename" | "link"

/** @internal */
export class FileSystemError extends Data.TaggedError("FileSystemError")<{
  readonly operation: FileOperation
  readonly path: string
  /** The platform's reason tag (`NotFound`, `PermissionDenied`, `AlreadyExists`, …) or `"NotAFile"`. */
  readonly reason: string
  readonly cause: unknown
}> {
  override get message(): string {
    const detail = this.cause instanceof Error ? this.cause.message : this.reason
    return `Cannot ${this.operation} ${this.path}: ${detail}`
  }
}

/** @internal */
export type Part =
  | { readonly _tag: "Field"; readonly name: string; readonly value: string }
  | {
    readonly _tag: "File"
    readonly name: string
    readonly path: string
    readonly filename: string
    readonly contentType: string
  }

// ---------------------------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------------------------

const check = <A>(module: string, option: string, value: A, ok: (u: A) => boolean, expected: string) =>
  InvalidOption.check(module, option, value, ok, expected)

const isOptional = (ok: (u: unknown) => boolean) => (u: unknown) => u === undefined || ok(u)

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

const parseUrl = (raw: string): URL | string => {
  const url = URL.parse(raw)
  if (url === null) return "not an absolute URL"
  if (url.protocol !== "http:" && url.protocol !== "https:") return `unsupported protocol ${url.protocol}`
  if (url.hostname === "") return "no host"
  return url
}

/** A request from a URL or a request; a malformed URL fails with MalformedUrlError before any I/O. */
const toRequest = (
  source: string | URL | HttpClientRequest.HttpClientRequest,
  method: string
): Effect.Effect<HttpClientRequest.HttpClientRequest, MalformedUrlError> => {
  const request = HttpClientRequest.isHttpClientRequest(source)
    ? source
    : typeof source === "string" || source instanceof URL
    ? HttpClientRequest.make(method as "GET")(String(source))
    : undefined
  if (request === undefined) return Effect.fail(new MalformedUrlError({ url: String(source), reason: "not a URL" }))
  const url = parseUrl(request.url)
  return typeof url === "string" ?
    Effect.fail(new MalformedUrlError({ url: request.url, reason: url })) :
    Effect.succeed(
      request
    )
}

const sizeOption = (module: string, option: string, value: unknown, fallback: number) =>
  value === undefined
    ? Result.succeed(fallback)
    : InvalidOption.int(module, option, value, { min: 0, orInfinity: true })

const pathOption = (module: string, option: string, value: unknown) =>
  InvalidOption.check(
    module,
    option,
    value,
    (u): u is string => typeof u === "string" && u !== "" && !u.includes("\0"),
    "a non-empty file path"
  )

const progressOption = (module: string, value: unknown) =>
  InvalidOption.check(
    module,
    "progress",
    value,
    (u): u is ProgressSink | undefined =>
      u === undefined || typeof u === "function" || SubscriptionRef.isSubscriptionRef(u),
    "a function returning an Effect, or a SubscriptionRef"
  )

/** The options record itself, when given. */
const optionsRecord = <O extends object>(module: string, options: O | undefined) =>
  Result.map(
    check(module, "options", options, isOptional(isRecord), "an options object"),
    (o): O => o ?? ({} as O)
  )

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

// ---------------------------------------------------------------------------------------------------------------
// Error mapping
// ---------------------------------------------------------------------------------------------------------------

/** Walks a cause chain (a few levels) for a system error code or one of our own typed errors. */
const inspectCause = (cause: unknown): { code: string | undefined; own: FileSystemError | undefined } => {
  let current: unknown = cause
  let code: string | undefined = undefined
  for (let depth = 0; depth < 6 && isRecord(current); depth++) {
    if (current instanceof FileSystemError) return { code, own: current }
    if (code === undefined && typeof current.code === "string") code = current.code
    current = current.cause
  }
  return { code, own: undefined }
}

const fromClientError = (
  error: HttpClientError.HttpClientError,
  method: string,
  url: string
): MalformedUrlError | ConnectError | ConnectionLostError | FileSystemError => {
  const reason = error.reason
  if (reason._tag === "InvalidUrlError") return new MalformedUrlError({ url, reason: String(reason.cause) })
  const cause = "cause" in reason ? reason.cause : undefined
  const { code, own } = inspectCause(cause)
  if (own !== undefined) return own
  const host = URL.parse(url)?.host ?? ""
  const fields = { method, url, host, code, cause }
  return code !== undefined && CONNECT_CODES.has(code) ? new ConnectError(fields) : new ConnectionLostError(fields)
}

const fsError = (operation: FileOperation, path: string) => (cause: PlatformError.PlatformError) =>
  new FileSystemError({ operation, path, reason: cause.reason._tag, cause })

const isTransient = (error: TransferError): boolean => {
  switch (error._tag) {
    case "ConnectError":
    case "ConnectionLostError":
      return true
    case "StatusError":
      return error.status === 408 || error.status === 429 || error.status >= 500
    default:
      return false
  }
}

const withRetry = <A, R>(
  effect: Effect.Effect<A, TransferError, R>,
  policy: RetryPolicy | undefined
): Effect.Effect<A, TransferError, R> =>
  policy === undefined ? effect : Effect.retry(effect, { schedule: policy, while: isTransient })

const report = (sink: ProgressSink | undefined, progress: Progress): Effect.Effect<void> =>
  sink === undefined
    ? Effect.void
    : typeof sink === "function"
    ? sink(progress)
    : SubscriptionRef.set(sink, progress)

const decoder = new TextDecoder()

/** Reads at most `limit` bytes of a body (more fails with BodyTooLargeError). */
const readBounded = (
  response: HttpClientResponse.HttpClientResponse,
  method: string,
  url: string,
  limit: number
): Effect.Effect<
  Uint8Array,
  ConnectionLostError | BodyTooLargeError | ConnectError | MalformedUrlError | FileSystemError
> =>
  Effect.suspend(() => {
    const length = contentLength(response.headers)
    if (length !== undefined && length > limit) {
      return Effect.fail(new BodyTooLargeError({ method, url, limit, received: length }))
    }
    return collectBounded(
      Stream.mapError(response.stream, (e) => fromClientError(e, method, url)),
      limit,
      (received) => new BodyTooLargeError({ method, url, limit, received })
    )
  })

/** The first 64 KiB of an error response, as text, for StatusError. */
const statusError = (
  response: HttpClientResponse.HttpClientResponse,
  method: string,
  url: string
): Effect.Effect<never, StatusError> =>
  Effect.gen(function*() {
    const headers = response.headers
    let body = ""
    const chunks: Array<Uint8Array> = []
    let size = 0
    yield* response.stream.pipe(
      Stream.takeWhile((chunk) => {
        const take = size < 65536
        if (take) {
          chunks.push(chunk)
          size += chunk.length
        }
        return take
      }),
      Stream.runDrain,
      Effect.ignore
    )
    for (const c of chunks) body += decoder.decode(c, { stream: true })
    body += decoder.decode()
    const now = yield* Clock.currentTimeMillis
    return yield* new StatusError({
      method,
      url,
      status: response.status,
      headers,
      body: body.slice(0, 65536),
      retryAfter: parseRetryAfter(headers["retry-after"], now)
    })
  })

/** Sends `request` on a client whose request is aborted (socket released) when the current scope closes. */
const send = (
  client: HttpClient.HttpClient,
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<
  HttpClientResponse.HttpClientResponse,
  MalformedUrlError | ConnectError | ConnectionLostError | FileSystemError,
  Scope.Scope
> =>
  Effect.mapError(
    HttpClient.withScope(client).execute(request),
    (e) => fromClientError(e, request.method, request.url)
  )

// ---------------------------------------------------------------------------------------------------------------
// Download
// ---------------------------------------------------------------------------------------------------------------

const DOWNLOAD = "Transfer.download"

interface DownloadConfig {
  readonly path: string
  readonly maxBytes: number
  readonly overwrite: boolean
  readonly progress: ProgressSink | undefined
  readonly headers: Headers.Input | undefined
  readonly retry: RetryPolicy | undefined
}

const downloadConfig = (path: unknown, options: DownloadOptions | undefined) =>
  Effect.fromResult(Result.gen(function*() {
    const o = yield* optionsRecord(DOWNLOAD, options)
    yield* check(DOWNLOAD, "overwrite", o.overwrite, isOptional((u) => typeof u === "boolean"), "a boolean")
    yield* check(DOWNLOAD, "headers", o.headers, isOptional(isRecord), "a record of header values")
    return {
      path: yield* pathOption(DOWNLOAD, "path", path),
      maxBytes: yield* sizeOption(DOWNLOAD, "maxBytes", o.maxBytes, Infinity),
      overwrite: o.overwrite ?? false,
      progress: yield* progressOption(DOWNLOAD, o.progress),
      headers: o.headers,
      retry: o.retry
    } satisfies DownloadConfig
  }))

const randomSuffix: Effect.Effect<string> = Effect.map(
  Random.nextIntBetween(0, 2 ** 32 - 1),
  (n) => n.toString(16).padStart(8, "0")
)

/** Fails with TargetExistsError when `path` exists and `overwrite` is off. */
const checkTarget = (fs: FileSystem.FileSystem, config: DownloadConfig) =>
  config.overwrite ? Effect.void : Effect.flatMap(
    Effect.mapError(fs.exists(config.path), fsError("stat", config.path)),
    (exists) => exists ? Effect.fail(new TargetExistsError({ path: config.path })) : Effect.void
  )

/**
 * Moves the finished temporary file to `path`: `rename` (atomic, replaces) with `overwrite`, else a hard link (atomic,
 * fails if the target appeared meanwhile; the temporary name is removed by the caller's finalizer); where hard links
 * are not supported, an existence check and `rename`.
 */
const commit = (
  fs: FileSystem.FileSystem,
  temp: string,
  config: DownloadConfig
): Effect.Effect<void, FileSystemError | TargetExistsError> => {
  const rename = Effect.mapError(fs.rename(temp, config.path), fsError("rename", config.path))
  if (config.overwrite) return rename
  return Effect.catch(
    fs.link(temp, config.path),
    (e): Effect.Effect<void, FileSystemError | TargetExistsError> => {
      if (e.reason._tag === "AlreadyExists") return Effect.fail(new TargetExistsError({ path: config.path }))
      if (e.reason._tag === "NotFound") return Effect.fail(fsError("link", config.path)(e))
      return Effect.andThen(checkTarget(fs, config), rename)
    }
  )
}

const downloadOnce = (
  client: HttpClient.HttpClient,
  fs: FileSystem.FileSystem,
  request: HttpClientRequest.HttpClientRequest,
  config: DownloadConfig
): Effect.Effect<Downloaded, TransferError> =>
  Effect.scoped(Effect.gen(function*() {
    const method = request.method
    const url = request.url
    yield* checkTarget(fs, config)
    const temp = `${config.path}.${yield* randomSuffix}.part`
    const outer = yield* Effect.scope
    // the temporary name goes on every path (after a rename it is already gone; after a hard link it is the
    // second name of the target). The first finalizer added runs last: after the request is aborted and the file
    // handle closed.
    yield* Scope.addFinalizer(outer, Effect.ignore(fs.remove(temp)))
    const fileScope = yield* Scope.fork(outer, "sequential")
    const file = yield* fs.open(temp, { flag: "wx" }).pipe(
      Scope.provide(fileScope),
      Effect.mapError(fsError("open", temp))
    )
    const response = yield* send(client, request)
    if (response.status < 200 || response.status > 299) return yield* statusError(response, method, url)
    const headers = response.headers
    const total = contentLength(headers)
    const limit = config.maxBytes
    if (total !== undefined && total > limit) {
      return yield* new BodyTooLargeError({ method, url, limit, received: total })
    }
    let bytes = 0
    yield* report(config.progress, { bytes, total })
    yield* response.stream.pipe(
      Stream.mapError((e) => fromClientError(e, method, url)),
      Stream.runForEach((chunk): Effect.Effect<void, TransferError> => {
        bytes += chunk.length
        if (bytes > limit) return Effect.fail(new BodyTooLargeError({ method, url, limit, received: bytes }))
        const write = Effect.mapError(file.writeAll(chunk), fsError("write", temp))
        return config.progress === undefined
          ? write
          : Effect.andThen(write, report(config.progress, { bytes, total }))
      })
    )
    yield* Effect.mapError(file.sync, fsError("sync", temp))
    yield* Scope.close(fileScope, Exit.void)
    yield* Effect.uninterruptible(commit(fs, temp, config))
    return {
      path: config.path,
      bytes,
      status: response.status,
      url,
      contentType: headers["content-type"],
      headers
    }
  }))

/** @internal */
export const download = (
  source: string | URL | HttpClientRequest.HttpClientRequest,
  path: string,
  options?: DownloadOptions
): Effect.Effect<Downloaded, TransferError, HttpClient.HttpClient | FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const config = yield* downloadConfig(path, options)
    let request = yield* toRequest(source, "GET")
    if (config.headers !== undefined) request = HttpClientRequest.setHeaders(request, config.headers)
    const client = yield* HttpClient.HttpClient
    const fs = yield* FileSystem.FileSystem
    return yield* withRetry(downloadOnce(client, fs, request, config), config.retry)
  }).pipe(Effect.withSpan(DOWNLOAD))

// ---------------------------------------------------------------------------------------------------------------
// Upload
// ---------------------------------------------------------------------------------------------------------------

const UPLOAD = "Transfer.upload"
const UPLOAD_FILE = "Transfer.uploadFile"

interface UploadConfig {
  readonly method: string
  readonly headers: Headers.Input | undefined
  readonly progress: ProgressSink | undefined
  readonly retry: RetryPolicy | undefined
  readonly maxResponseBytes: number
}

const uploadConfig = (module: string, options: UploadOptions | undefined): InvalidOption.Check<UploadConfig> =>
  Result.gen(function*() {
    const o = yield* optionsRecord(module, options)
    const method = yield* check(
      module,
      "method",
      o.method ?? "POST",
      (m) => typeof m === "string" && TOKEN.test(m),
      "an HTTP method name"
    )
    yield* check(module, "headers", o.headers, isOptional(isRecord), "a record of header values")
    return {
      method: method.toUpperCase(),
      headers: o.headers,
      progress: yield* progressOption(module, o.progress),
      retry: o.retry,
      maxResponseBytes: yield* sizeOption(module, "maxResponseBytes", o.maxResponseBytes, 1024 * 1024)
    }
  })

const encoder = new TextEncoder()

/** WHATWG's multipart/form-data escaping of names and file names in `Content-Disposition`. */
const escapeName = (name: string): string => name.replace(/\r/g, "%0D").replace(/\n/g, "%0A").replace(/"/g, "%22")

/** @internal */
export const field = (name: string, value: string): Part => ({ _tag: "Field", name, value })

/** @internal */
export const file = (
  name: string,
  path: string,
  options?: { readonly filename?: string | undefined; readonly contentType?: string | undefined }
): Part => ({
  _tag: "File",
  name,
  path,
  filename: options?.filename ?? path.split(/[\\/]/).pop() ?? path,
  contentType: options?.contentType ?? "application/octet-stream"
})

const isString = (u: unknown): u is string => typeof u === "string"

const isMediaType = (u: unknown): u is string => typeof u === "string" && u !== "" && !/[\r\n]/.test(u)

const validateParts = (parts: unknown): InvalidOption.Check<ReadonlyArray<Part>> =>
  Result.gen(function*() {
    const list = yield* check(
      UPLOAD,
      "parts",
      parts,
      Array.isArray,
      "an array of Transfer.field / Transfer.file parts"
    ) as InvalidOption.Check<ReadonlyArray<unknown>>
    for (const [i, value] of list.entries()) {
      const option = `parts[${i}]`
      const part = yield* InvalidOption.check(
        UPLOAD,
        option,
        value,
        (u): u is Record<string, unknown> => isRecord(u) && (u._tag === "Field" || u._tag === "File"),
        "a Transfer.field or Transfer.file part"
      )
      yield* check(UPLOAD, `${option}.name`, part.name, (u) => isString(u) && u !== "", "a non-empty string")
      if (part._tag === "Field") {
        yield* check(UPLOAD, `${option}.value`, part.value, isString, "a string")
      } else {
        yield* pathOption(UPLOAD, `${option}.path`, part.path)
        yield* check(UPLOAD, `${option}.filename`, part.filename, isString, "a string")
        yield* check(
          UPLOAD,
          `${option}.contentType`,
          part.contentType,
          (u) => isString(u) && !/[\r\n]/.test(u),
          "a media type without line breaks"
        )
      }
    }
    return list as ReadonlyArray<Part>
  })

/** A byte stream that reports progress as it is pulled (re-run from 0 by every attempt). */
const counted = (
  body: Stream.Stream<Uint8Array, FileSystemError>,
  total: number,
  sink: ProgressSink | undefined
): Stream.Stream<Uint8Array, FileSystemError> =>
  sink === undefined ? body : Stream.suspend(() => {
    let bytes = 0
    return Stream.concat(
      Stream.fromEffectDrain(report(sink, { bytes: 0, total })),
      Stream.tap(body, (chunk) => {
        bytes += chunk.length
        return report(sink, { bytes, total })
      })
    )
  })

const fileStream = (
  fs: FileSystem.FileSystem,
  path: string,
  size: number
): Stream.Stream<Uint8Array, FileSystemError> =>
  size === 0 ? Stream.empty : Stream.mapError(fs.stream(path, { bytesToRead: size }), fsError("read", path))

const sizeOf = (fs: FileSystem.FileSystem, path: string): Effect.Effect<number, FileSystemError> =>
  Effect.flatMap(Effect.mapError(fs.stat(path), fsError("stat", path)), (info) =>
    info.type === "File"
      ? Effect.succeed(Number(info.size))
      : Effect.fail(
        new FileSystemError({
          operation: "stat",
          path,
          reason: "NotAFile",
          cause: undefined
        })
      ))

/** Sends a request whose body streams from disk, then reads the (bounded) response. */
const sendUpload = (
  client: HttpClient.HttpClient,
  request: HttpClientRequest.HttpClientRequest,
  bytes: number,
  config: UploadConfig
): Effect.Effect<Uploaded, TransferError> =>
  Effect.scoped(Effect.gen(function*() {
    const response = yield* send(client, request)
    if (response.status < 200 || response.status > 299) {
      return yield* statusError(response, request.method, request.url)
    }
    const body = yield* readBounded(response, request.method, request.url, config.maxResponseBytes)
    return {
      status: response.status,
      url: request.url,
      bytes,
      headers: response.headers,
      body: decoder.decode(body)
    }
  }))

/** @internal */
export const upload = (
  url: string | URL,
  parts: ReadonlyArray<Part>,
  options?: UploadOptions
): Effect.Effect<Uploaded, TransferError, HttpClient.HttpClient | FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const [config, checked] = yield* Effect.fromResult(
      Result.all([uploadConfig(UPLOAD, options), validateParts(parts)])
    )
    let request = yield* toRequest(url, config.method)
    const client = yield* HttpClient.HttpClient
    const fs = yield* FileSystem.FileSystem
    const sizes = yield* Effect.forEach(
      checked,
      (part) => part._tag === "File" ? sizeOf(fs, part.path) : Effect.succeed(0)
    )
    const boundary = `----async-ops-${yield* randomSuffix}${yield* randomSuffix}`
    const segments: Array<Stream.Stream<Uint8Array, FileSystemError>> = []
    let length = 0
    const text = (s: string) => {
      const bytes = encoder.encode(s)
      length += bytes.length
      segments.push(Stream.succeed(bytes))
    }
    checked.forEach((part, i) => {
      const disposition = `--${boundary}\r\nContent-Disposition: form-data; name="${escapeName(part.name)}"`
      if (part._tag === "Field") {
        text(`${disposition}\r\n\r\n${part.value}\r\n`)
      } else {
        const size = sizes[i]!
        text(`${disposition}; filename="${escapeName(part.filename)}"\r\nContent-Type: ${part.contentType}\r\n\r\n`)
        segments.push(fileStream(fs, part.path, size))
        length += size
        text("\r\n")
      }
    })
    text(`--${boundary}--\r\n`)
    const body = counted(Stream.flatten(Stream.fromArray(segments)), length, config.progress)
    request = HttpClientRequest.setBody(
      request,
      HttpBody.stream(body, `multipart/form-data; boundary=${boundary}`, length)
    )
    if (config.headers !== undefined) {
      request = HttpClientRequest.setHeaders(request, config.headers)
    }
    return yield* withRetry(sendUpload(client, request, length, config), config.retry)
  }).pipe(Effect.withSpan(UPLOAD))

/** @internal */
export const uploadFile = (
  url: string | URL,
  path: string,
  options?: UploadFileOptions
): Effect.Effect<Uploaded, TransferError, HttpClient.HttpClient | FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const [contentType, config, checkedPath] = yield* Effect.fromResult(Result.all([
      InvalidOption.check(
        UPLOAD_FILE,
        "contentType",
        options?.contentType ?? "application/octet-stream",
        isMediaType,
        "a media type without line breaks"
      ),
      uploadConfig(UPLOAD_FILE, options),
      pathOption(UPLOAD_FILE, "path", path)
    ]))
    let request = yield* toRequest(url, config.method)
    const client = yield* HttpClient.HttpClient
    const fs = yield* FileSystem.FileSystem
    const size = yield* sizeOf(fs, checkedPath)
    const body = counted(fileStream(fs, checkedPath, size), size, config.progress)
    request = HttpClientRequest.setBody(request, HttpBody.stream(body, contentType, size))
    if (config.headers !== undefined) request = HttpClientRequest.setHeaders(request, config.headers)
    return yield* withRetry(sendUpload(client, request, size, config), config.retry)
  }).pipe(Effect.withSpan(UPLOAD_FILE))
