/**
 * The client's response: read whole, its text decoded once.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Headers from "effect/http/Headers"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import { BodyDecodeError } from "../HttpResilienceError.ts"

/** @internal */
export const decoder = new TextDecoder()

/** @internal */
export class Response {
  readonly request: HttpClientRequest.HttpClientRequest
  readonly url: string
  readonly status: number
  readonly headers: Headers.Headers
  readonly body: Uint8Array
  attempts: number
  private cachedText: string | undefined
  constructor(
    request: HttpClientRequest.HttpClientRequest,
    url: string,
    status: number,
    headers: Headers.Headers,
    body: Uint8Array
  ) {
    this.request = request
    this.url = url
    this.status = status
    this.headers = headers
    this.body = body
    this.attempts = 1
    this.cachedText = undefined
  }
  get text(): string {
    if (this.cachedText === undefined) this.cachedText = decoder.decode(this.body)
    return this.cachedText
  }
  get json(): Effect.Effect<unknown, BodyDecodeError> {
    return Effect.try({
      try: () => {
        const text = this.text
        return text === "" ? null : JSON.parse(text) as unknown
      },
      catch: (cause) => new BodyDecodeError({ url: this.url, cause })
    })
  }
}
