import { InvalidOption, Metrics, WorkQueue } from "@async-ops/core"
import { Chaos, LeakCheck, VirtualTime } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Exit, Fiber, Metric, Option, Ref } from "effect"
import { isInterrupted, start } from "./support.ts"

const takeN = <A>(queue: WorkQueue.WorkQueue<A>, n: number) =>
  Effect.gen(function*() {
    const out: Array<A> = []
    for (let i = 0; i < n; i++) {
      out.push(yield* queue.take)
      yield* queue.taskDone
    }
    return out
  })

describe("WorkQueue", () => {
  describe("order", () => {
    it.effect("fifo: items come out in the order they were offered", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<number>()
        // methods are bound: they can be passed around
        yield* Effect.forEach([3, 1, 4, 1, 5], queue.offer)
        expect(yield* takeN(queue, 5)).toEqual([3, 1, 4, 1, 5])
      }))

    it.effect("lifo: the last item offered comes out first", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<number>({ order: "lifo" })
        yield* queue.offerAll([1, 2, 3])
        expect(yield* queue.take).toBe(3)
        yield* queue.offer(4)
        expect(yield* takeN(queue, 3)).toEqual([4, 2, 1])
      }))

    it.effect("priority: lower priority first, and offer order among equal priorities", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<{ readonly p: number; readonly id: string }>({
          order: "priority",
          priority: (item) => item.p
        })
        const items = [
          { p: 5, id: "a" },
          { p: 1, id: "b" },
          { p: 3, id: "c" },
          { p: 1, id: "d" },
          { p: 5, id: "e" },
          { p: 0, id: "f" },
          { p: 3, id: "g" },
          { p: Number.NaN, id: "nan" }
        ]
        yield* queue.offerAll(items)
        const out = yield* takeN(queue, items.length)
        expect(out.map((i) => i.id)).toEqual(["f", "b", "d", "c", "g", "a", "e", "nan"])
      }))

    it.effect("priority: 2,000 random items come out sorted and stable", () =>
      Effect.gen(function*() {
        const random = Chaos.seeded(7)
        const queue = yield* WorkQueue.make<{ readonly p: number; readonly seq: number }>({
          order: "priority",
          priority: (item) => item.p
        })
        const items = Array.from({ length: 2000 }, (_, seq) => ({ p: random.int(50), seq }))
        yield* queue.offerAll(items)
        // interleave takes and offers so the heap is exercised in both directions
        const out = yield* queue.takeUpTo(700)
        yield* queue.taskDoneN(out.length)
        const rest = yield* queue.takeUpTo(Number.POSITIVE_INFINITY)
        yield* queue.taskDoneN(rest.length)
        const sorted = items.toSorted((a, b) => a.p - b.p || a.seq - b.seq)
        expect([...out, ...rest]).toEqual(sorted)
      }))
  })

  describe("capacity and backpressure", () => {
    it.effect("a full queue suspends the producer until a consumer takes an item", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<string>({ capacity: 2 })
        yield* queue.offer("a")
        yield* queue.offer("b")
        const producer = yield* start(queue.offer("c"))
        expect(producer.pollUnsafe()).toBeUndefined()
        expect(yield* queue.stats).toMatchObject({ size: 2, waitingPutters: 1 })
        expect(yield* queue.take).toBe("a")
        yield* Fiber.join(producer)
        expect(yield* queue.stats).toMatchObject({ size: 2, waitingPutters: 0 })
        expect(yield* takeN(queue, 2)).toEqual(["b", "c"])
      }))

    it.effect("waiting producers are served in the order they started waiting", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<number>({ capacity: 1 })
        yield* queue.offer(0)
        const producers: Array<Fiber.Fiber<void, WorkQueue.QueueShutdownError>> = []
        for (const i of [3, 1, 2]) producers.push(yield* start(queue.offer(i)))
        expect(yield* takeN(queue, 4)).toEqual([0, 3, 1, 2])
        yield* Fiber.joinAll(producers)
      }))

    it.effect("offerIfAvailable enqueues when there is room and returns false at once when full", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<number>({ capacity: 1 })
        expect(yield* queue.offerIfAvailable(1)).toBe(true)
        expect(yield* queue.offerIfAvailable(2)).toBe(false)
        expect(yield* queue.stats).toMatchObject({ size: 1, offered: 1, waitingPutters: 0 })
        expect(yield* takeN(queue, 1)).toEqual([1])
      }))

    it.effect("a full queue holds back an offer even when a consumer is waiting behind an item not yet delivered", () =>
      Effect.gen(function*() {
        // asyncio semantics: the item handed to the waiting consumer still occupies the slot until it runs.
        const queue = yield* WorkQueue.make<number>({ capacity: 1 })
        const consumer = yield* start(queue.take)
        yield* queue.offer(1)
        expect(yield* queue.offerIfAvailable(2)).toBe(false)
        expect(yield* Fiber.join(consumer)).toBe(1)
        expect(yield* queue.offerIfAvailable(2)).toBe(true)
      }))

    it.effect(
      "a million items flow through a queue of 1,000 with 4 consumers, each exactly once",
      () =>
        Effect.gen(function*() {
          const queue = yield* WorkQueue.make<number>({ capacity: 1000 })
          let sum = 0
          let count = 0
          const consumer = Effect.gen(function*() {
            const batch = queue.takeUpTo(256)
            while (true) {
              const xs = yield* batch
              for (const x of xs) sum += x
              count += xs.length
              yield* queue.taskDoneN(xs.length)
            }
          }).pipe(Effect.catchTag("QueueShutdownError", () => Effect.void))
          const consumers = yield* Effect.forEach([1, 2, 3, 4], () => Effect.forkChild(consumer))
          for (let i = 0; i < 1_000_000; i++) yield* queue.offer(i)
          yield* queue.join
          yield* queue.shutdown()
          yield* Fiber.joinAll(consumers)
          expect(count).toBe(1_000_000)
          expect(sum).toBe((1_000_000 * 999_999) / 2)
        }),
      60_000
    )
  })

  describe("taking", () => {
    it.effect("a take on an empty queue waits for the next offer, and waiting consumers are served in order", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<string>()
        const a = yield* start(queue.take)
        const b = yield* start(queue.take)
        expect(yield* queue.stats).toMatchObject({ waitingTakers: 2 })
        yield* queue.offerAll(["first", "second"])
        expect(yield* Fiber.join(a)).toBe("first")
        expect(yield* Fiber.join(b)).toBe("second")
      }))

    it.effect("takeIfAvailable returns none on an empty queue without waiting", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<number>()
        expect(yield* queue.takeIfAvailable).toEqual(Option.none())
        yield* queue.offer(9)
        expect(yield* queue.takeIfAvailable).toEqual(Option.some(9))
        expect(yield* queue.stats).toMatchObject({ inFlight: 1, taken: 1 })
      }))

    it.effect("takeUpTo waits for one item, then takes everything queued up to max in one step", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<number>()
        const waiting = yield* start(queue.takeUpTo(3))
        yield* queue.offerAll([1, 2, 3, 4, 5])
        expect(yield* Fiber.join(waiting)).toEqual([1, 2, 3])
        expect(yield* queue.takeUpTo(10)).toEqual([4, 5])
        yield* queue.taskDoneN(5)
        expect(yield* queue.stats).toMatchObject({ unfinished: 0, inFlight: 0, done: 5 })
      }))

    it.effect("takeBetween waits until min items are queued", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<number>()
        const waiting = yield* start(queue.takeBetween(3, 4))
        yield* queue.offer(1)
        yield* queue.offer(2)
        expect(yield* queue.stats).toMatchObject({ size: 2, waitingTakers: 1 })
        yield* queue.offerAll([3, 4, 5])
        // it also takes what arrived before it ran, up to max
        expect(yield* Fiber.join(waiting)).toEqual([1, 2, 3, 4])
      }))

    it.effect("takeBetween caps min at the capacity, so it cannot wait forever", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<number>({ capacity: 2 })
        const waiting = yield* start(queue.takeBetween(5, 10))
        yield* queue.offerAll([1, 2])
        expect(yield* Fiber.join(waiting)).toEqual([1, 2])
      }))

    it.effect("a consumer waiting for many items does not block a consumer that wants one", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<number>()
        const big = yield* start(queue.takeBetween(3, 3))
        const small = yield* start(queue.take)
        yield* queue.offer(1)
        expect(yield* Fiber.join(small)).toBe(1)
        yield* queue.offerAll([2, 3, 4])
        expect(yield* Fiber.join(big)).toEqual([2, 3, 4])
      }))

    it.effect("takeUpTo and takeBetween reject bad counts with InvalidOptionError naming the argument", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<number>()
        const upTo = yield* Effect.flip(queue.takeUpTo(0))
        expect(upTo).toBeInstanceOf(InvalidOption.InvalidOptionError)
        expect(upTo).toMatchObject({ module: "WorkQueue.takeUpTo", option: "max", value: 0 })
        expect(yield* Effect.flip(queue.takeBetween(0, 3))).toMatchObject({ option: "min", value: 0 })
        expect(yield* Effect.flip(queue.takeBetween(1.5, 3))).toMatchObject({ option: "min", value: 1.5 })
        expect(yield* Effect.flip(queue.takeBetween(4, 3))).toMatchObject({ option: "max", value: 3 })
      }))
  })

  describe("taskDone and join", () => {
    it.effect("join returns at once when nothing was offered", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<number>()
        yield* queue.join
        expect(yield* queue.stats).toMatchObject({ unfinished: 0 })
      }))

    it.effect("join waits until every offered item is taken and marked done; queued items count as unfinished", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<string>()
        yield* queue.offerAll(["a", "b"])
        const joiner = yield* start(queue.join)
        expect(yield* queue.stats).toMatchObject({ unfinished: 2, inFlight: 0 })
        yield* queue.take
        yield* queue.take
        yield* queue.taskDone
        expect(yield* queue.stats).toMatchObject({ unfinished: 1, inFlight: 1 })
        expect(joiner.pollUnsafe()).toBeUndefined()
        yield* queue.taskDone
        yield* Fiber.join(joiner)
        expect(yield* queue.stats).toMatchObject({ unfinished: 0, done: 2 })
      }))

    it.effect("an interrupted join leaves no trace and a later join still returns", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<number>()
        yield* queue.offer(1)
        const joiner = yield* start(queue.join)
        yield* Fiber.interrupt(joiner)
        expect(isInterrupted(yield* Fiber.await(joiner))).toBe(true)
        const second = yield* start(queue.join)
        yield* takeN(queue, 1)
        yield* Fiber.join(second)
      }))

    it.effect("taskDone more times than items taken fails with TaskDoneError and changes nothing", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<number>({ name: "jobs" })
        yield* queue.offerAll([1, 2])
        const first = yield* Effect.flip(queue.taskDone)
        expect(first).toBeInstanceOf(WorkQueue.TaskDoneError)
        expect(first.message).toBe("WorkQueue \"jobs\": taskDone for 1 item(s) but only 0 taken and not done")
        yield* queue.take
        expect(yield* Effect.flip(queue.taskDoneN(2))).toMatchObject({ count: 2, inFlight: 1 })
        expect(yield* queue.stats).toMatchObject({ inFlight: 1, done: 0 })
        yield* queue.taskDone
        expect(yield* Effect.flip(queue.taskDone)).toMatchObject({ _tag: "TaskDoneError" })
      }))

    it.effect("takeScoped marks the item done when its scope closes, whatever the exit", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<number>()
        yield* queue.offerAll([1, 2, 3])
        const seen: Array<number> = []
        // success, failure and interruption: none of them calls taskDone
        yield* Effect.scoped(Effect.map(queue.takeScoped, (n) => seen.push(n)))
        yield* Effect.scoped(
          Effect.flatMap(queue.takeScoped, (n) => Effect.fail(`boom ${n}`))
        ).pipe(Effect.flip)
        const started = yield* Deferred.make<void>()
        const holder = yield* start(Effect.scoped(
          Effect.flatMap(queue.takeScoped, (n) => {
            seen.push(n)
            return Effect.andThen(Deferred.succeed(started, undefined), Effect.never)
          })
        ))
        yield* Deferred.await(started)
        expect(yield* queue.stats).toMatchObject({ inFlight: 1, done: 2 })
        yield* Fiber.interrupt(holder)
        yield* queue.join
        expect(seen).toEqual([1, 3])
        expect(yield* queue.stats).toMatchObject({ inFlight: 0, done: 3, unfinished: 0 })
      }))

    it.effect("a takeScoped interrupted while waiting acknowledges nothing and loses nothing", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<number>()
        const waiter = yield* start(Effect.scoped(queue.takeScoped))
        yield* Fiber.interrupt(waiter)
        yield* queue.offer(1)
        expect(yield* queue.stats).toMatchObject({ size: 1, waitingTakers: 0, done: 0 })
        expect(yield* takeN(queue, 1)).toEqual([1])
      }))
  })

  describe("shutdown", () => {
    it.effect("shutdown lets consumers drain what is queued, then take fails with QueueShutdownError", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<number>({ name: "q" })
        yield* queue.offerAll([1, 2])
        yield* queue.shutdown()
        expect(yield* queue.isShutdown).toBe(true)
        expect(yield* queue.take).toBe(1)
        expect(yield* queue.takeUpTo(5)).toEqual([2])
        const error = yield* Effect.flip(queue.take)
        expect(error).toBeInstanceOf(WorkQueue.QueueShutdownError)
        expect(error.message).toBe("WorkQueue \"q\" is shut down")
        expect(yield* Effect.flip(queue.takeIfAvailable)).toMatchObject({ _tag: "QueueShutdownError" })
      }))

    it.effect("after shutdown producers fail at once, including those already waiting", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<number>({ capacity: 1 })
        yield* queue.offer(1)
        const waiting = yield* start(queue.offer(2))
        yield* queue.shutdown()
        expect(yield* Effect.flip(Fiber.join(waiting))).toMatchObject({ _tag: "QueueShutdownError" })
        expect(yield* Effect.flip(queue.offer(3))).toMatchObject({ _tag: "QueueShutdownError" })
        expect(yield* Effect.flip(queue.offerIfAvailable(3))).toMatchObject({ _tag: "QueueShutdownError" })
        expect(yield* Effect.flip(queue.offerAll([3]))).toMatchObject({ _tag: "QueueShutdownError" })
        expect(yield* queue.stats).toMatchObject({ size: 1, offered: 1, waitingPutters: 0, state: "shutdown" })
      }))

    it.effect("shutdown fails consumers waiting on an empty queue, and hands the rest to waiting batch takers", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<number>()
        const batch = yield* start(queue.takeBetween(5, 5))
        const single = yield* start(queue.take)
        // the batch taker waits for 5: the single taker is served first
        yield* queue.offerAll([1, 2, 3])
        expect(yield* Fiber.join(single)).toBe(1)
        yield* queue.shutdown()
        // the batch taker gets what is left, fewer than its min
        expect(yield* Fiber.join(batch)).toEqual([2, 3])
        const late = yield* start(queue.take)
        expect(yield* Effect.flip(Fiber.join(late))).toMatchObject({ _tag: "QueueShutdownError" })
      }))

    it.effect("shutdown immediate drops queued items, releases join and fails waiting consumers", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<number>()
        yield* queue.offerAll([1, 2, 3])
        const joiner = yield* start(queue.join)
        yield* queue.shutdown({ immediate: true })
        yield* Fiber.join(joiner)
        expect(yield* queue.stats).toMatchObject({
          size: 0,
          unfinished: 0,
          dropped: 3,
          state: "shutdown-immediate"
        })
        expect(yield* Effect.flip(queue.take)).toMatchObject({ _tag: "QueueShutdownError" })
        const queue2 = yield* WorkQueue.make<number>()
        const waiting = yield* start(queue2.take)
        yield* queue2.shutdown({ immediate: true })
        expect(yield* Effect.flip(Fiber.join(waiting))).toMatchObject({ _tag: "QueueShutdownError" })
      }))

    it.effect("after an immediate shutdown, items already taken still hold join until marked done", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<number>()
        yield* queue.offerAll([1, 2])
        yield* queue.take
        yield* queue.shutdown({ immediate: true })
        const joiner = yield* start(queue.join)
        expect(yield* queue.stats).toMatchObject({ unfinished: 1, dropped: 1 })
        expect(joiner.pollUnsafe()).toBeUndefined()
        yield* queue.taskDone
        yield* Fiber.join(joiner)
      }))

    it.effect("an immediate shutdown after a draining one drops what is left", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<number>()
        yield* queue.offerAll([1, 2, 3])
        yield* queue.shutdown()
        expect(yield* queue.take).toBe(1)
        yield* queue.shutdown({ immediate: true })
        yield* queue.shutdown()
        expect(yield* queue.stats).toMatchObject({ size: 0, dropped: 2, state: "shutdown-immediate" })
      }))
  })

  describe("interruption", () => {
    it.effect("an interrupted waiting producer leaves no trace: its item is not enqueued", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<string>({ capacity: 1 })
        yield* queue.offer("a")
        const producer = yield* start(queue.offer("ghost"))
        yield* Fiber.interrupt(producer)
        expect(yield* queue.stats).toMatchObject({ waitingPutters: 0, size: 1, offered: 1 })
        expect(yield* takeN(queue, 1)).toEqual(["a"])
        expect(yield* queue.takeIfAvailable).toEqual(Option.none())
      }))

    it.effect("an interrupted waiting consumer leaves no trace: the next item goes to the next consumer", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<string>()
        const first = yield* start(queue.take)
        const second = yield* start(queue.take)
        yield* Fiber.interrupt(first)
        expect(yield* queue.stats).toMatchObject({ waitingTakers: 1 })
        yield* queue.offer("x")
        expect(yield* Fiber.join(second)).toBe("x")
      }))

    it.effect("an item handed to a consumer interrupted before it ran goes to the next consumer", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<string>()
        const first = yield* start(queue.take)
        const second = yield* start(queue.take)
        // in one step: the item is handed to `first` (which has not run yet), then `first` is interrupted
        yield* queue.offer("x")
        yield* Fiber.interrupt(first)
        expect(isInterrupted(yield* Fiber.await(first))).toBe(true)
        expect(yield* Fiber.join(second)).toBe("x")
        expect(yield* queue.stats).toMatchObject({ size: 0, taken: 1, inFlight: 1, waitingTakers: 0 })
      }))

    it.effect("items handed to a consumer interrupted before it ran go back to the front, in order", () =>
      Effect.gen(function*() {
        for (const order of ["fifo", "lifo", "priority"] as const) {
          const queue = yield* WorkQueue.make<number>(
            order === "priority" ? { order, priority: (n) => n } : { order }
          )
          const batch = yield* start(queue.takeBetween(2, 2))
          yield* queue.offerAll([1, 2])
          yield* Fiber.interrupt(batch)
          yield* queue.offer(order === "lifo" ? 0 : 3)
          const all = yield* queue.takeUpTo(10)
          expect(all, order).toEqual(order === "lifo" ? [0, 2, 1] : [1, 2, 3])
          expect(yield* queue.stats, order).toMatchObject({ size: 0, inFlight: 3, taken: 3 })
        }
      }))

    it.effect("a slot given to a producer interrupted before it ran passes to the next producer", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<string>({ capacity: 1 })
        yield* queue.offer("a")
        const ghost = yield* start(queue.offer("ghost"))
        const next = yield* start(queue.offer("b"))
        // in one step: taking "a" frees the slot for `ghost` (which has not run yet), then `ghost` is interrupted
        expect(yield* queue.take).toBe("a")
        yield* Fiber.interrupt(ghost)
        yield* Fiber.join(next)
        expect(yield* queue.stats).toMatchObject({ size: 1, offered: 2, waitingPutters: 0 })
        expect(yield* queue.take).toBe("b")
      }))

    it.effect(
      "random interruptions of producers and consumers lose, duplicate and leak nothing",
      () =>
        Effect.gen(function*() {
          let interrupted = 0
          let handedOffThenInterrupted = 0
          let slotThenInterrupted = 0
          // seeds 1..100, then again with metrics on: the gauges must end idle too
          for (const metrics of [false, true]) {
            yield* Chaos.forEachSeed(100, (random) =>
              Effect.gen(function*() {
                const name = `random-${random.seed}`
                const order = random.pick(["fifo", "lifo", "priority"] as const)
                const queue = yield* WorkQueue.make<number>({
                  capacity: 1 + random.int(3),
                  order,
                  ...(order === "priority" ? { priority: (n: number) => n % 7 } : {}),
                  ...(metrics ? { name, metrics } : {})
                })
                const offered: Array<number> = []
                const received: Array<number> = []
                const run = Effect.gen(function*() {
                  const producers: Array<Fiber.Fiber<unknown, unknown>> = []
                  const consumers: Array<Fiber.Fiber<unknown, unknown>> = []
                  for (let p = 0; p < 3; p++) {
                    const ids = Array.from({ length: 8 }, (_, i) => p * 100 + i)
                    const producer = Effect.forEach(ids, (id) =>
                      Effect.sleep(random.int(3) * 5).pipe(
                        Effect.andThen(random.int(4) === 0 ? queue.offerAll([id]) : queue.offer(id)),
                        Effect.andThen(Effect.sync(() => offered.push(id)))
                      ), { discard: true })
                    producers.push(yield* Effect.forkChild(producer))
                  }
                  for (let c = 0; c < 3; c++) {
                    const kind = random.int(3)
                    const hold = random.int(3) * 5
                    const consume = kind === 0
                      ? Effect.scoped(
                        Effect.flatMap(queue.takeScoped, (x) => {
                          received.push(x)
                          return Effect.sleep(hold)
                        })
                      )
                      : Effect.uninterruptibleMask((restore) =>
                        Effect.flatMap(restore(kind === 1 ? queue.takeUpTo(2) : queue.takeBetween(2, 3)), (xs) => {
                          received.push(...xs)
                          return Effect.andThen(Effect.sleep(hold), queue.taskDoneN(xs.length))
                        })
                      )
                    consumers.push(yield* Effect.forkChild(Effect.forever(consume)))
                  }
                  // Chaos: interrupt random fibers at random times; some right after an offer in the same step, which
                  // catches a consumer that was handed the item and has not run yet.
                  const all = [...producers, ...consumers]
                  const chaos = Effect.forEach(
                    Array.from({ length: 6 }),
                    () =>
                      Effect.sleep(random.int(8) * 5).pipe(Effect.andThen(Effect.gen(function*() {
                        if (random.chance(0.5)) {
                          const victim = random.pick(consumers)
                          if ((yield* queue.stats).waitingTakers > 0 && victim.pollUnsafe() === undefined) {
                            handedOffThenInterrupted++
                          }
                          const ok = yield* Effect.orElseSucceed(
                            queue.offerIfAvailable(1000 + random.int(1000)),
                            () => false
                          )
                          if (ok) {
                            offered.push(-1)
                          }
                          return yield* Fiber.interrupt(victim)
                        }
                        if (random.chance(0.5)) {
                          // take in the same step as interrupting a producer: catches one that was given the freed slot
                          const victim = random.pick(producers)
                          if ((yield* queue.stats).waitingPutters > 0 && victim.pollUnsafe() === undefined) {
                            slotThenInterrupted++
                          }
                          const got = yield* Effect.orElseSucceed(queue.takeIfAvailable, () => Option.none<number>())
                          if (Option.isSome(got)) {
                            received.push(got.value)
                            yield* Effect.ignore(queue.taskDone)
                          }
                          return yield* Fiber.interrupt(victim)
                        }
                        return yield* Fiber.interrupt(random.pick(all))
                      }))),
                    { discard: true }
                  )
                  yield* chaos
                  // Give everything time to settle, then shut down: producers blocked on a queue whose consumers were
                  // all interrupted fail; then stop the consumers and drain the rest ourselves.
                  yield* Effect.sleep(200)
                  yield* queue.shutdown()
                  const producerExits = yield* Effect.forEach(producers, Fiber.await)
                  interrupted += producerExits.filter(isInterrupted).length
                  yield* Fiber.interruptAll(consumers)
                  while (true) {
                    const xs = yield* Effect.exit(queue.takeUpTo(100))
                    if (Exit.isFailure(xs)) break
                    received.push(...xs.value)
                    yield* queue.taskDoneN(xs.value.length)
                  }
                })
                yield* LeakCheck.fibers(VirtualTime.autojump(run))
                const stats = yield* queue.stats
                expect(stats.waitingTakers).toBe(0)
                expect(stats.waitingPutters).toBe(0)
                expect(stats.size).toBe(0)
                // chaos offers carry ids >= 1000 and are recorded as -1: compare the producers' ids exactly
                const chaosOffered = offered.filter((x) => x === -1).length
                const fromProducers = offered.filter((x) => x >= 0).toSorted((a, b) => a - b)
                const receivedProducers = received.filter((x) => x < 1000).toSorted((a, b) => a - b)
                expect(receivedProducers).toEqual(fromProducers)
                expect(received.filter((x) => x >= 1000).length).toBe(chaosOffered)
                expect(stats.offered).toBe(offered.length)
                expect(stats.taken).toBe(received.length)
                // consumers interrupted inside their uninterruptible batches still marked them done
                expect(stats.unfinished).toBe(0)
                if (metrics) {
                  const attrs = { primitive: "WorkQueue", name }
                  const gauge = (metric: Metric.Gauge<number>) =>
                    Effect.map(Metric.value(Metric.withAttributes(metric, attrs)), (state) => state.value)
                  expect(yield* gauge(Metrics.queueDepth), name).toBe(0)
                  expect(yield* gauge(Metrics.waiting), name).toBe(0)
                  expect(yield* gauge(Metrics.inFlight), name).toBe(0)
                  expect((yield* Metric.value(Metric.withAttributes(Metrics.acquired, attrs))).count, name).toBe(
                    stats.taken
                  )
                }
              }))
          }
          expect(interrupted).toBeGreaterThan(10)
          expect(handedOffThenInterrupted).toBeGreaterThan(10)
          expect(slotThenInterrupted).toBeGreaterThan(5)
        }),
      60_000
    ) // 2-4 s on a loaded 2-core machine, near vitest's default 5 s
  })

  describe("stats and options", () => {
    it.effect("stats reports size, unfinished, waiting takers and putters, and totals", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<number>({ name: "jobs", capacity: 2 })
        expect(yield* queue.stats).toEqual({
          name: "jobs",
          order: "fifo",
          capacity: 2,
          state: "open",
          size: 0,
          unfinished: 0,
          inFlight: 0,
          waitingTakers: 0,
          waitingPutters: 0,
          offered: 0,
          taken: 0,
          done: 0,
          dropped: 0
        })
        yield* queue.offerAll([1, 2])
        const putter = yield* start(queue.offer(3))
        yield* queue.take
        yield* queue.taskDone
        yield* Fiber.join(putter)
        yield* queue.take
        expect(yield* queue.stats).toMatchObject({
          size: 1,
          unfinished: 2,
          inFlight: 1,
          offered: 3,
          taken: 2,
          done: 1
        })
        expect(yield* queue.size).toBe(1)
        const taker = yield* start(Effect.andThen(queue.take, queue.take))
        expect(yield* queue.stats).toMatchObject({ size: 0, waitingTakers: 1 })
        yield* Fiber.interrupt(taker)
        expect((yield* WorkQueue.make<number>()).name).toBe("WorkQueue")
        expect((yield* (yield* WorkQueue.make<number>()).stats).capacity).toBe(Number.POSITIVE_INFINITY)
      }))

    it.effect("reports depth, waiting, in flight, items taken and refused offers as metrics when asked", () =>
      Effect.gen(function*() {
        const attrs = { primitive: "WorkQueue", name: "queue-metrics" }
        const gauge = (metric: Metric.Gauge<number>) =>
          Effect.map(Metric.value(Metric.withAttributes(metric, attrs)), (s) => s.value)
        const counter = (metric: Metric.Counter<number>) =>
          Effect.map(Metric.value(Metric.withAttributes(metric, attrs)), (s) => s.count)
        const queue = yield* WorkQueue.make<number>({ name: "queue-metrics", capacity: 2, metrics: true })
        const taker = yield* start(queue.take)
        expect(yield* gauge(Metrics.waiting)).toBe(1)
        yield* queue.offer(1)
        expect(yield* Fiber.join(taker)).toBe(1)
        expect(yield* gauge(Metrics.waiting)).toBe(0)
        expect(yield* gauge(Metrics.inFlight)).toBe(1)
        yield* queue.offerAll([2, 3])
        expect(yield* gauge(Metrics.queueDepth)).toBe(2)
        expect(yield* queue.offerIfAvailable(4)).toBe(false)
        expect(yield* counter(Metrics.rejected)).toBe(1)
        const putter = yield* start(queue.offer(5))
        expect(yield* gauge(Metrics.waiting)).toBe(1)
        yield* queue.takeUpTo(2)
        yield* Fiber.join(putter)
        expect(yield* gauge(Metrics.waiting)).toBe(0)
        expect(yield* gauge(Metrics.queueDepth)).toBe(1)
        expect(yield* gauge(Metrics.inFlight)).toBe(3)
        yield* queue.taskDoneN(3)
        expect(yield* gauge(Metrics.inFlight)).toBe(0)
        expect(yield* counter(Metrics.acquired)).toBe(3)
        yield* queue.shutdown({ immediate: true })
        expect(yield* gauge(Metrics.queueDepth)).toBe(0)
      }))

    it.effect("capacity must be an integer >= 1 or \"unbounded\"", () =>
      Effect.gen(function*() {
        for (const capacity of [0, -1, 1.5, Number.NaN]) {
          const error = yield* Effect.flip(WorkQueue.make<number>({ capacity }))
          expect(error).toBeInstanceOf(InvalidOption.InvalidOptionError)
          expect(error).toMatchObject({ module: "WorkQueue.make", option: "capacity" })
        }
        expect((yield* (yield* WorkQueue.make<number>({ capacity: "unbounded" })).stats).capacity).toBe(
          Number.POSITIVE_INFINITY
        )
      }))

    it.effect("order must be fifo, lifo or priority", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(WorkQueue.make<number>({ order: "random" as never }))
        expect(error).toMatchObject({ _tag: "InvalidOptionError", option: "order", value: "random" })
      }))

    it.effect("priority is required with order priority and refused with the other orders", () =>
      Effect.gen(function*() {
        expect(yield* Effect.flip(WorkQueue.make<number>({ order: "priority" }))).toMatchObject({
          option: "priority"
        })
        expect(yield* Effect.flip(WorkQueue.make<number>({ order: "fifo", priority: (n) => n }))).toMatchObject({
          option: "priority"
        })
      }))

    it.effect("a producer and consumers on virtual time: one item per 10 ms keeps the queue near empty", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make<number>({ capacity: 3 })
        const seen = yield* Ref.make<Array<readonly [number, number]>>([])
        const consumer = Effect.forever(Effect.gen(function*() {
          const x = yield* queue.take
          yield* Ref.update(seen, (xs) => [...xs, [x, 0] as const])
          yield* Effect.sleep(25)
          yield* queue.taskDone
        }))
        const run = Effect.gen(function*() {
          const consumers = yield* Effect.forEach([1, 2, 3], () => Effect.forkChild(consumer))
          for (let i = 0; i < 9; i++) {
            yield* Effect.sleep(10)
            yield* queue.offer(i)
          }
          yield* queue.join
          yield* Fiber.interruptAll(consumers)
        })
        yield* LeakCheck.fibers(VirtualTime.autojump(run))
        expect((yield* Ref.get(seen)).map(([x]) => x)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8])
        // the last item is offered at 90 ms and takes 25 ms
        expect(yield* Clock.currentTimeMillis).toBe(115)
      }))
  })
})

describe("WorkQueue fast paths", () => {
  it.effect("an offer that finds room, a take that finds an item and taskDone complete without yielding", () =>
    Effect.gen(function*() {
      const queue = yield* WorkQueue.make<number>({ capacity: 2 })
      let otherRan = false
      // a fiber forked without startImmediately runs only once this fiber yields to the scheduler
      yield* Effect.forkChild(Effect.sync(() => {
        otherRan = true
      }))
      yield* queue.offer(1)
      yield* queue.offer(2)
      const a = yield* queue.take
      const b = yield* queue.take
      yield* queue.taskDoneN(2)
      expect(Option.isNone(yield* queue.takeIfAvailable)).toBe(true)
      expect(otherRan).toBe(false)
      expect([a, b]).toEqual([1, 2])
    }))

  it.effect("one take effect reused takes a new item each time it runs, under yield* and in pipe", () =>
    Effect.gen(function*() {
      const queue = yield* WorkQueue.make<number>()
      yield* queue.offerAll([1, 2, 3, 4])
      const take = queue.take
      const offer = queue.offer(9)
      const fromGen = [yield* take, yield* take]
      const fromPipe = yield* Effect.all([take, take.pipe(Effect.map((x) => x * 10))])
      yield* offer
      yield* offer
      expect(fromGen).toEqual([1, 2])
      expect(fromPipe).toEqual([3, 40])
      expect((yield* queue.stats).size).toBe(2)
    }))

  it.effect("a failing fast path fails the generator where it stands", () =>
    Effect.gen(function*() {
      const queue = yield* WorkQueue.make<number>()
      const error = yield* Effect.flip(queue.taskDone)
      expect(error._tag).toBe("TaskDoneError")
      yield* queue.shutdown()
      const shut = yield* Effect.flip(Effect.gen(function*() {
        yield* queue.offer(1)
        return "unreachable"
      }))
      expect(shut._tag).toBe("QueueShutdownError")
    }))

  it.effect("isWorkQueue tells a queue from other values", () =>
    Effect.gen(function*() {
      const queue = yield* WorkQueue.make<number>()
      expect(WorkQueue.isWorkQueue(queue)).toBe(true)
      expect(WorkQueue.isWorkQueue({ take: queue.take })).toBe(false)
      expect(WorkQueue.isWorkQueue(null)).toBe(false)
    }))
})
