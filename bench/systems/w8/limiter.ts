/** W8 runner: limiter (see `fleet.ts`). */
import { runSystem } from "./fleet.ts"

runSystem("limiter")
