/**
 * The three orders of a WorkQueue (and so of a WorkerPool) behind one small interface: a growable ring buffer for
 * FIFO (asyncio.Queue), an array used as a stack for LIFO (asyncio.LifoQueue), and a binary min-heap keyed by
 * (priority, offer sequence) for priority order (asyncio.PriorityQueue, stable among equal priorities).
 *
 * @internal
 */

/** A queue's storage in one order. @internal */
export interface Buffer<A> {
  readonly length: number
  push(item: A): void
  /** Takes the next item; only called when `length > 0`. */
  shift(): A
  /** Takes up to `n` items in order. */
  take(n: number): Array<A>
  /** Puts items taken earlier back at the front, so that `items[0]` comes out next. */
  restore(items: ReadonlyArray<A>): void
  /** Empties the buffer and returns what it held, in take order. */
  clear(): Array<A>
}

/** FIFO: a growable ring buffer (O(1) push, shift and unshift). */
export class Ring<A> implements Buffer<A> {
  private items: Array<A | undefined>
  private head = 0
  private mask: number
  length = 0

  constructor(initial: number) {
    let size = 16
    while (size < initial && size < 1024) size *= 2
    this.items = Array.from<A | undefined>({ length: size })
    this.mask = size - 1
  }

  private grow(): void {
    const old = this.items
    const size = old.length * 2
    const items = Array.from<A | undefined>({ length: size })
    for (let i = 0; i < this.length; i++) items[i] = old[(this.head + i) & this.mask]
    this.items = items
    this.head = 0
    this.mask = size - 1
  }

  push(item: A): void {
    if (this.length === this.items.length) this.grow()
    this.items[(this.head + this.length) & this.mask] = item
    this.length++
  }

  shift(): A {
    const item = this.items[this.head] as A
    this.items[this.head] = undefined
    this.head = (this.head + 1) & this.mask
    this.length--
    return item
  }

  take(n: number): Array<A> {
    const count = Math.min(n, this.length)
    // preallocated: this is the batch-take hot path
    // oxlint-disable-next-line unicorn/no-new-array
    const out: Array<A> = new Array(count)
    for (let i = 0; i < count; i++) out[i] = this.shift()
    return out
  }

  restore(items: ReadonlyArray<A>): void {
    for (let i = items.length - 1; i >= 0; i--) {
      if (this.length === this.items.length) this.grow()
      this.head = (this.head - 1) & this.mask
      this.items[this.head] = items[i]
      this.length++
    }
  }

  clear(): Array<A> {
    return this.take(this.length)
  }
}

/** LIFO: an array used as a stack. */
export class Stack<A> implements Buffer<A> {
  private readonly items: Array<A> = []
  get length(): number {
    return this.items.length
  }
  push(item: A): void {
    this.items.push(item)
  }
  shift(): A {
    return this.items.pop() as A
  }
  take(n: number): Array<A> {
    const count = Math.min(n, this.items.length)
    const out: Array<A> = []
    for (let i = 0; i < count; i++) out.push(this.items.pop() as A)
    return out
  }
  restore(items: ReadonlyArray<A>): void {
    for (let i = items.length - 1; i >= 0; i--) this.items.push(items[i] as A)
  }
  clear(): Array<A> {
    return this.take(this.items.length)
  }
}

interface HeapEntry<A> {
  readonly priority: number
  readonly seq: number
  readonly item: A
}

/**
 * Priority: a binary min-heap keyed by (priority, sequence), so lower priorities come first and equal priorities
 * keep their offer order. Items put back by `restore` get sequence numbers below every offered one, so they go
 * back in front of their equals.
 */
export class Heap<A> implements Buffer<A> {
  private readonly heap: Array<HeapEntry<A>> = []
  private nextSeq = 0
  private restoreSeq = 0
  private readonly priorityOf: (item: A) => number

  constructor(priorityOf: (item: A) => number) {
    this.priorityOf = priorityOf
  }

  get length(): number {
    return this.heap.length
  }

  private key(item: A): number {
    const p = this.priorityOf(item)
    return Number.isNaN(p) ? Number.POSITIVE_INFINITY : p
  }

  private static less<A>(a: HeapEntry<A>, b: HeapEntry<A>): boolean {
    return a.priority < b.priority || (a.priority === b.priority && a.seq < b.seq)
  }

  private insert(entry: HeapEntry<A>): void {
    const heap = this.heap
    let i = heap.length
    heap.push(entry)
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = heap[parent]!
      if (!Heap.less(entry, p)) break
      heap[i] = p
      i = parent
    }
    heap[i] = entry
  }

  push(item: A): void {
    this.insert({ priority: this.key(item), seq: this.nextSeq++, item })
  }

  shift(): A {
    const heap = this.heap
    const top = heap[0]!
    const last = heap.pop()!
    const n = heap.length
    if (n > 0) {
      let i = 0
      while (true) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        let c = l
        if (r < n && Heap.less(heap[r]!, heap[l]!)) c = r
        const child = heap[c]!
        if (!Heap.less(child, last)) break
        heap[i] = child
        i = c
      }
      heap[i] = last
    }
    return top.item
  }

  take(n: number): Array<A> {
    const count = Math.min(n, this.heap.length)
    const out: Array<A> = []
    for (let i = 0; i < count; i++) out.push(this.shift())
    return out
  }

  restore(items: ReadonlyArray<A>): void {
    for (let i = items.length - 1; i >= 0; i--) {
      const item = items[i] as A
      this.insert({ priority: this.key(item), seq: --this.restoreSeq, item })
    }
  }

  clear(): Array<A> {
    return this.take(this.heap.length)
  }
}

/** The buffer for an order. `priority` is required with `"priority"`. @internal */
export const make = <A>(
  order: "fifo" | "lifo" | "priority",
  capacity: number,
  priority: ((item: A) => number) | undefined
): Buffer<A> =>
  order === "lifo"
    ? new Stack<A>()
    : order === "priority"
    ? new Heap<A>(priority!)
    : new Ring<A>(capacity)
