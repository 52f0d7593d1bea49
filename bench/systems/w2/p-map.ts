// W2 bounded: p-map with concurrency 100 (a worker pulls the next input when one finishes; no parked waiters).
import pMap from "p-map"
import { bench, immediate, range, sumInOrder } from "../../runner.ts"

bench(async ({ size, params }) =>
  sumInOrder(await pMap(range(size), (i) => immediate(i), { concurrency: params["concurrency"] ?? 100 }))
)
