/**
 * The entry point of an `Offload` worker thread: imports the task module named in `workerData.module`, then runs
 * each `[id, name, args]` request by calling the module's export `name` with `args` and answers
 * `[id, 0, value]` or `[id, 1, { name, message, stack }]`. Plain Node code: it runs outside any Effect runtime.
 *
 * @internal
 */
import { parentPort, workerData } from "node:worker_threads"

type Request = readonly [id: number, name: string, args: ReadonlyArray<unknown>]

interface ErrorInfo {
  readonly name: string
  readonly message: string
  readonly stack: string | undefined
}

const toErrorInfo = (error: unknown): ErrorInfo =>
  error instanceof Error
    ? { name: error.name, message: error.message, stack: error.stack }
    : { name: "Error", message: String(error), stack: undefined }

const port = parentPort!
const moduleUrl = (workerData as { readonly module: string }).module

let loaded: Record<string, unknown> | undefined
let loadError: ErrorInfo | undefined
try {
  loaded = (await import(moduleUrl)) as Record<string, unknown>
} catch (error) {
  const info = toErrorInfo(error)
  loadError = { ...info, message: `cannot load ${moduleUrl}: ${info.message}` }
}

const reply = (id: number, ok: boolean, value: unknown): void => {
  try {
    port.postMessage([id, ok ? 0 : 1, value])
  } catch (error) {
    // the result could not be structured-cloned
    port.postMessage([id, 1, toErrorInfo(error)])
  }
}

port.on("message", (request: Request) => {
  const [id, name, args] = request
  if (loaded === undefined) return reply(id, false, loadError)
  const fn = loaded[name]
  if (typeof fn !== "function") {
    return reply(id, false, {
      name: "TypeError",
      message: `${moduleUrl} has no exported function named ${JSON.stringify(name)}`,
      stack: undefined
    })
  }
  try {
    const value: unknown = fn(...args)
    if (value instanceof Promise) {
      value.then((v) => reply(id, true, v), (e) => reply(id, false, toErrorInfo(e)))
    } else reply(id, true, value)
  } catch (error) {
    reply(id, false, toErrorInfo(error))
  }
})
