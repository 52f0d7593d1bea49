/**
 * Counts this process's open sockets and file handles/requests, so a live example test can assert that the example
 * closed everything it opened.
 */
import { Effect } from "effect"

/** Open sockets and file handles/requests of this process. */
export const openHandles = (): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const name of process.getActiveResourcesInfo()) {
    if (/^(TCPSocketWrap|TCPServerWrap|FSReqCallback|FSReqPromise|FileHandle)$/.test(name)) {
      counts[name] = (counts[name] ?? 0) + 1
    }
  }
  return counts
}

/** Closed handles leave libuv in its close phase: let event-loop turns pass (at most 200) until they are gone. */
export const settledHandles = (expected: Record<string, number>) =>
  Effect.gen(function*() {
    let now = openHandles()
    for (let i = 0; i < 200 && JSON.stringify(now) !== JSON.stringify(expected); i++) {
      yield* Effect.callback<void>((resume) => {
        setImmediate(() => resume(Effect.void))
      })
      now = openHandles()
    }
    return now
  })
