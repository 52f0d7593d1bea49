// W6 server: the bare Effect HttpRouter server (one route, no middleware).
import * as Effect from "effect/Effect"
import { benchMeasured } from "../../runner.ts"
import { serveAndLoad } from "./serve.ts"

benchMeasured((args) => Effect.runPromise(serveAndLoad(args)))
