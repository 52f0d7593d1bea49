/**
 * Test support shared by the service package's route tests: a plain `node:http` GET on 127.0.0.1 (no keep-alive
 * agent, so no socket outlives the request), interruptible (the request is destroyed).
 */
import { Effect } from "effect"
import * as http from "node:http"

export const get = (port: number, path: string) =>
  Effect.callback<{ readonly status: number; readonly body: string }, Error>((resume) => {
    const req = http.get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => (body += chunk))
      res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, body })))
    })
    req.on("error", (e) => resume(Effect.fail(e)))
    return Effect.sync(() => req.destroy())
  })
