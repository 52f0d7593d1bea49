/** W8 runner: distributed (see `fleet.ts`). */
import { runSystem } from "./fleet.ts"

runSystem("distributed")
