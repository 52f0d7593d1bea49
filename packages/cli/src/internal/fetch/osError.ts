/**
 * `async-ops fetch`: the operating-system reason of an I/O failure, in words a user can act on.
 *
 * @internal
 */
import { getSystemErrorMessage } from "node:util"

export const errnoOf = (error: unknown): { readonly code?: unknown; readonly errno?: unknown } | undefined => {
  if (typeof error !== "object" || error === null) return undefined
  const e = error as {
    readonly code?: unknown
    readonly errno?: unknown
    readonly reason?: { readonly cause?: unknown }
  }
  if (typeof e.code === "string") return e
  const cause = e.reason?.cause
  return typeof cause === "object" && cause !== null ? errnoOf(cause) : undefined
}

/**
 * The operating system's reason for a failed read or write, in one line: `no space left on device (ENOSPC)`.
 *
 * @internal
 */
export const osReason = (error: unknown): string => {
  const e = errnoOf(error)
  if (e !== undefined && typeof e.code === "string") {
    let text: string | undefined
    if (typeof e.errno === "number") {
      try {
        text = getSystemErrorMessage(e.errno)
      } catch {
        text = undefined
      }
    }
    return text === undefined ? e.code : `${text} (${e.code})`
  }
  return describeError(error)
}

export const isClosed = (error: unknown): boolean => {
  const code = errnoOf(error)?.code
  return code === "EPIPE" || code === "ERR_STREAM_DESTROYED" || code === "ERR_STREAM_WRITE_AFTER_END"
}

export const describeError = (error: unknown): string => {
  const e = error as { readonly reason?: { readonly _tag?: string; readonly description?: string } }
  const tag = e.reason?._tag
  if (tag === "NotFound") return "no such file"
  if (tag === "PermissionDenied") return "permission denied"
  if (tag === "BadResource") return "not a readable file"
  return e.reason?.description ?? (error instanceof Error ? error.message : String(error))
}

/**
 * Opens the output file: appended to under `--resume` (the complete records already there are kept byte for byte),
 * truncated otherwise.
 *
 * @internal
 */
