// W5 memory: N promises each resolved by a setTimeout of 1 s, all awaited with Promise.all.
import { bench, range } from "../../runner.ts"

bench(async ({ size, params }) => {
  const ms = params["sleepMs"] ?? 1000
  await Promise.all(range(size).map(() => new Promise<void>((resolve) => setTimeout(resolve, ms))))
  return size
})
