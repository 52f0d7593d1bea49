/**
 * `async-ops fetch`'s output records: one JSON Lines record per input, and how an outcome becomes one.
 *
 * @internal
 */
import * as HttpResilience from "@async-ops/http/HttpResilience"
import * as HttpResilienceError from "@async-ops/http/HttpResilienceError"
import * as Meter from "../meter.ts"
import { type UrlEntry } from "./urlList.ts"

/** @internal */
export interface FetchRecord {
  readonly line: number
  readonly url: string
  readonly ok: boolean
  readonly status: number | null
  readonly error: string | null
  readonly message: string | null
  readonly bytes: number
  readonly ms: number
  readonly attempts: number
}

/** @internal */
export const encodeRecord = (r: FetchRecord): string =>
  JSON.stringify({
    line: r.line,
    url: r.url,
    ok: r.ok,
    status: r.status,
    error: r.error,
    message: r.message,
    bytes: r.bytes,
    ms: Math.round(r.ms * 10) / 10,
    attempts: r.attempts
  }) + "\n"

export const encoder = new TextEncoder()

/** @internal */
export const recordOf = (
  entry: UrlEntry,
  result:
    | { readonly _tag: "Success"; readonly response: HttpResilience.Response }
    | { readonly _tag: "Failure"; readonly error: HttpResilienceError.HttpError }
    | { readonly _tag: "Defect"; readonly defect: unknown },
  meter: Meter.CallMeter | undefined,
  maxRedirects = 0
): FetchRecord => {
  const base = { line: entry.line, url: entry.url, ms: meter?.ms ?? 0, attempts: meter?.attempts ?? 0 }
  switch (result._tag) {
    case "Success": {
      const status = result.response.status
      // a 3xx reaching here was not followed (--max-redirects 0, the limit reached, or no usable Location)
      const redirect = status >= 300 && status < 400
      return {
        ...base,
        ok: !redirect,
        status,
        error: redirect ? "RedirectNotFollowedError" : null,
        message: redirect
          ? `${status} redirect to ${result.response.headers["location"] ?? "(no Location)"} not followed` +
            (maxRedirects === 0 ? " (redirects off)" : ` (limit of ${maxRedirects} redirects)`)
          : null,
        bytes: result.response.body.length
      }
    }
    case "Failure": {
      const e = result.error
      return {
        ...base,
        ok: false,
        status: e._tag === "StatusError" ? e.status : null,
        error: meter?.kind ?? e._tag,
        message: e.message,
        bytes: e._tag === "StatusError" ? encoder.encode(e.body).length : 0
      }
    }
    case "Defect":
      return {
        ...base,
        ok: false,
        status: null,
        error: "Defect",
        message: result.defect instanceof Error ? result.defect.message : String(result.defect),
        bytes: 0
      }
  }
}
