// W3 queue: a minimal hand-written bounded async channel on promises (what a team writes without a library):
// one producer awaiting send() per item, 4 consumers awaiting recv() per item, close() to end.
import { bench } from "../../runner.ts"

const DONE = Symbol("done")

const channel = <A>(capacity: number) => {
  const items: Array<A> = []
  const takers: Array<(item: A | typeof DONE) => void> = []
  const putters: Array<() => void> = []
  let closed = false
  return {
    async send(item: A): Promise<void> {
      while (items.length >= capacity) await new Promise<void>((resolve) => putters.push(resolve))
      const taker = takers.shift()
      if (taker !== undefined) taker(item)
      else items.push(item)
    },
    recv(): Promise<A | typeof DONE> | A | typeof DONE {
      if (items.length > 0) {
        const item = items.shift() as A
        putters.shift()?.()
        return item
      }
      if (closed) return DONE
      return new Promise((resolve) => takers.push(resolve))
    },
    close(): void {
      closed = true
      for (const taker of takers.splice(0)) taker(DONE)
    }
  }
}

bench(async ({ size, params }) => {
  const ch = channel<number>(params["capacity"] ?? 1000)
  const consumer = async (): Promise<number> => {
    let sum = 0
    while (true) {
      const item = await ch.recv()
      if (item === DONE) return sum
      sum += item
    }
  }
  const consumers = Array.from({ length: params["consumers"] ?? 4 }, consumer)
  for (let i = 0; i < size; i++) await ch.send(i)
  ch.close()
  return (await Promise.all(consumers)).reduce((a, b) => a + b, 0)
})
