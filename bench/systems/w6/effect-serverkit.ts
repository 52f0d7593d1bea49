// W6 server: the same Effect server with the ServerKit middlewares around the router, as ServerKit recommends
// (`HttpRouter.middleware(fn, { global: true })`): problemJson, bodyLimit, deadlineHeader, timeout, load shedding
// and in-flight tracking (the access log left out: it writes a line per request). The limits are far above the
// load (nothing is shed, nothing times out): what is measured is the cost of the middlewares on the happy path.
import * as ServerKit from "@async-ops/http/ServerKit"
import * as Effect from "effect/Effect"
import { flow } from "effect/Function"
import * as HttpRouter from "effect/http/HttpRouter"
import { benchMeasured } from "../../runner.ts"
import { serveAndLoad } from "./serve.ts"

benchMeasured((args) =>
  Effect.runPromise(Effect.gen(function*() {
    const inFlight = yield* ServerKit.inFlight()
    const shedding = yield* ServerKit.loadShedding({ maxConcurrent: 1_000, maxQueued: 1_000 })
    const timeout = yield* ServerKit.timeout({ duration: "30 seconds" })
    const bodyLimit = yield* ServerKit.bodyLimit({ maxBytes: 1_000_000 })
    const deadline = yield* ServerKit.deadlineHeader()
    const Kit = HttpRouter.middleware(
      flow(ServerKit.problemJson(), bodyLimit, deadline, timeout, shedding.middleware, inFlight.middleware),
      { global: true }
    )
    return yield* serveAndLoad(args, Kit)
  }))
)
