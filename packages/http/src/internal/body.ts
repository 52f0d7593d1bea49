/**
 * The size-capped body reader shared by the client (both exchanges) and transfers: chunks collected up to a byte
 * limit, a `content-length` over the limit refused before reading.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Headers from "effect/http/Headers"
import type * as HttpClientError from "effect/http/HttpClientError"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as Stream from "effect/Stream"
import { BodyTooLargeError, type ConnectionLostError } from "../HttpResilienceError.ts"
import { brokenBody } from "./classify.ts"

/**
 * The `content-length` of a response in bytes, or `undefined` when absent or not a plain decimal number.
 *
 * @internal
 */
export const contentLength = (headers: Headers.Headers): number | undefined => {
  const raw = headers["content-length"]
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : undefined
}

/**
 * The chunks of one body, kept up to `limit` bytes: `push` says whether the body is still within it.
 *
 * @internal
 */
export class BodyBuffer {
  readonly limit: number
  /** Bytes pushed so far, the refused chunk included. */
  size = 0
  private chunks: Array<Uint8Array> = []
  constructor(limit: number) {
    this.limit = limit
  }

  /** Adds a chunk; `false` (the chunk is not kept) once the body is over the limit. */
  push(chunk: Uint8Array): boolean {
    this.size += chunk.length
    if (this.size > this.limit) return false
    this.chunks.push(chunk)
    return true
  }

  /**
   * The body as one array, and the buffer emptied. A body of one chunk is that chunk, unless `copy` (for a
   * transport that may reuse its chunk's memory).
   */
  take(copy = false): Uint8Array {
    const chunks = this.chunks
    this.chunks = []
    if (chunks.length === 0) return new Uint8Array(0)
    if (chunks.length === 1) return copy ? new Uint8Array(chunks[0]!) : chunks[0]!
    const out = new Uint8Array(this.size)
    let offset = 0
    for (const c of chunks) {
      out.set(c, offset)
      offset += c.length
    }
    return out
  }
}

/**
 * Collects a byte stream whole, failing with `tooLarge(received)` as soon as it passes `limit` bytes (the stream
 * is then ended, so that a transport aborts its request).
 *
 * @internal
 */
export const collectBounded = <E, E2>(
  stream: Stream.Stream<Uint8Array, E>,
  limit: number,
  tooLarge: (received: number) => E2
): Effect.Effect<Uint8Array, E | E2> =>
  Effect.suspend(() => {
    const buffer = new BodyBuffer(limit)
    return stream.pipe(
      Stream.runForEach((chunk) => buffer.push(chunk) ? Effect.void : Effect.fail(tooLarge(buffer.size))),
      Effect.map(() => buffer.take())
    )
  })

/**
 * Reads a response body of the `HttpClient` path whole, at most `limit` bytes (more fails with
 * `BodyTooLargeError` and the socket is released); a body that breaks off fails with `ConnectionLostError`.
 *
 * @internal
 */
export const readBody = (
  response: HttpClientResponse.HttpClientResponse,
  headers: Headers.Headers,
  method: string,
  url: URL,
  limit: number
): Effect.Effect<Uint8Array, BodyTooLargeError | ConnectionLostError> => {
  const tooLarge = (received: number) => new BodyTooLargeError({ method, url: url.href, limit, received })
  const broken = (error: HttpClientError.HttpClientError) =>
    brokenBody("cause" in error.reason ? error.reason.cause : undefined, method, url)
  if (method === "HEAD" || response.status === 204 || response.status === 304) {
    return Effect.succeed(new Uint8Array(0))
  }
  const length = contentLength(headers)
  if (length !== undefined) {
    if (length > limit) {
      // read one chunk and end the stream: the transport aborts the request and closes the socket
      return Effect.andThen(Effect.ignore(Stream.runHead(response.stream)), Effect.fail(tooLarge(length)))
    }
    return Effect.map(Effect.mapError(response.arrayBuffer, broken), (buffer) => new Uint8Array(buffer))
  }
  return collectBounded(Stream.mapError(response.stream, broken), limit, tooLarge)
}
