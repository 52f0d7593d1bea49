/** W8 runner: redis-semaphore (see `fleet.ts`). */
import { runSystem } from "./fleet.ts"

runSystem("redis-semaphore")
