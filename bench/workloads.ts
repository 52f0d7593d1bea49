/**
 * The workloads of `pnpm bench`: the same work in every system, with the bars of DESIGN.md section 6. Each system
 * is a runner file under `systems/<workload>/` (see `runner.ts` and `pyrunner.py`).
 *
 * Adding a workload: write one runner per system under `systems/<id>/` (Node `.ts` calling `bench`, Python `.py`
 * calling `bench`, with `python: { imports: [...], hint: ... }` so the row is skipped where a module is missing),
 * describe its tables and bars below, and add it to {@link workloads}. A workload that needs something running for
 * all its runs (W4's local server) gives a `setup` that starts it once and passes e.g. its `port` to every runner.
 */
import {
  type Bar,
  fmtRate,
  growthBar,
  type PythonNeeds,
  ratioBar,
  type Summary,
  type System,
  timeDetail,
  timeRatio,
  type Workload
} from "./harness.ts"
import { startServer } from "./http/process.ts"
import { triangle } from "./runner.ts"
import { redisAvailable, startRedis } from "./systems/w8/redisServer.ts"

const asyncio: PythonNeeds = { imports: ["asyncio"] }
const asyncioTaskGroup: PythonNeeds = {
  imports: ["asyncio"],
  assert: "hasattr(asyncio, \"TaskGroup\")",
  hint: "asyncio.TaskGroup needs Python 3.11+"
}

const n = (x: number): string => x.toLocaleString("en-US")

// ---------------------------------------------------------------------------------------------------------------
// W1 gather

const W1_SIZE = 100_000

const w1 = {
  promiseAll: { label: "Promise.all", file: "w1/promise-all.ts" },
  effectForEach: { label: "Effect.forEach unbounded", file: "w1/effect-foreach.ts" },
  gather: { label: "Gather.settle", file: "w1/gather-settle.ts", ours: true, requires: ["Gather"] },
  taskGroup: { label: "TaskGroup.scoped", file: "w1/taskgroup.ts", ours: true, requires: ["TaskGroup"] },
  asyncioGather: { label: "asyncio.gather", file: "w1/asyncio_gather.py", python: asyncio },
  asyncioTaskGroup: { label: "asyncio.TaskGroup", file: "w1/asyncio_taskgroup.py", python: asyncioTaskGroup }
} satisfies Record<string, System>

const gatherWorkload: Workload = {
  id: "w1",
  aliases: ["gather"],
  title: "W1 gather",
  about: `${n(W1_SIZE)} trivial async tasks started at once, results in input order. A task returns its input: an ` +
    "`async` function (JS), a coroutine (Python), `Effect.sync(() => i)` run as a fiber of its own (Effect; " +
    "`Effect.succeed` would be recorded without a fiber). TaskGroup spawns every task and joins the handles in order.",
  tables: [{
    kind: "systems",
    title: `${n(W1_SIZE)} tasks`,
    size: W1_SIZE,
    expect: triangle,
    systems: Object.values(w1),
    reference: w1.gather.label
  }],
  bars: [
    ratioBar({
      name: "W1 Gather.settle no slower than Effect.forEach",
      ours: w1.gather,
      other: w1.effectForEach,
      size: W1_SIZE,
      ratio: timeRatio,
      limit: 1,
      detail: timeDetail
    })
  ]
}

// ---------------------------------------------------------------------------------------------------------------
// W2 bounded

const W2_SIZE = 100_000
const W2_PARAMS = { concurrency: 100 }
const W2_SCALING = [5_000, 10_000, 20_000, 40_000, 100_000]

const w2 = {
  pLimit: { label: "p-limit", file: "w2/p-limit.ts" },
  pMap: { label: "p-map", file: "w2/p-map.ts" },
  pQueue: { label: "p-queue", file: "w2/p-queue.ts" },
  henrygdQueue: {
    label: "@henrygd/queue",
    file: "w2/henrygd-queue.ts",
    note: "with fastq, one of the fastest JS limiters: the anchor for how far every row is from the best."
  },
  fastq: { label: "fastq (promise)", file: "w2/fastq.ts" },
  effectForEach: { label: "Effect.forEach concurrency", file: "w2/effect-foreach.ts" },
  effectSemaphore: {
    label: "Effect Semaphore + forEach unbounded",
    file: "w2/effect-semaphore.ts",
    note: "every task forked at once and parked on one `Semaphore.withPermit` (the seed's Pattern 2 ported " +
      "literally); run at every size since effect 4.1.5 reworked the Semaphore's release (4.1.0 took 466 s at " +
      "N = 100,000, and this row was capped at 20,000)."
  },
  gather: { label: "Gather.settle concurrency", file: "w2/gather-settle.ts", ours: true, requires: ["Gather"] },
  taskGroup: { label: "TaskGroup concurrency", file: "w2/taskgroup.ts", ours: true, requires: ["TaskGroup"] },
  limiter: {
    label: "Limiter + forEach unbounded",
    file: "w2/limiter.ts",
    ours: true,
    requires: ["Limiter"],
    note: "every task forked at once and parked on one Limiter: the Semaphore pattern, and p-limit's, on our limiter."
  },
  asyncioSemaphore: { label: "asyncio.Semaphore + gather", file: "w2/asyncio_semaphore.py", python: asyncio }
} satisfies Record<string, System>

const w2Ours = [w2.gather, w2.taskGroup, w2.limiter]

const boundedWorkload: Workload = {
  id: "w2",
  aliases: ["bounded"],
  title: "W2 bounded",
  about: `${n(W2_SIZE)} tasks, at most ${W2_PARAMS.concurrency} in flight; each task awaits one macrotask ` +
    "(`setImmediate` in Node, `asyncio.sleep(0)` in Python) and returns its input; results in input order.",
  tables: [
    {
      kind: "systems",
      title: `${n(W2_SIZE)} tasks, concurrency ${W2_PARAMS.concurrency}`,
      size: W2_SIZE,
      params: W2_PARAMS,
      expect: triangle,
      systems: Object.values(w2),
      reference: w2.gather.label
    },
    {
      kind: "scaling",
      title: "Scaling: N tasks on one limiter, concurrency 100 (cost per item must not grow with the waiters)",
      sizes: W2_SCALING,
      params: W2_PARAMS,
      expect: triangle,
      systems: [...w2Ours, w2.effectSemaphore]
    }
  ],
  bars: [
    ...w2Ours.map((ours) =>
      ratioBar({
        name: `W2 ${ours.label} at least as fast as p-limit`,
        ours,
        other: w2.pLimit,
        size: W2_SIZE,
        params: W2_PARAMS,
        ratio: timeRatio,
        limit: 1,
        detail: timeDetail
      })
    ),
    // Linear paths give about 1 (less, as the JIT warms up); a quadratic one gives about 4.8 over 5k-20k-100k
    // (marginal cost c(N1 + N2): 25k against 120k). 2 leaves room for a shared machine's noise.
    ...w2Ours.map((system) =>
      growthBar({
        name: `W2 ${system.label}: cost per item does not grow with the waiters (marginal growth)`,
        system,
        sizes: W2_SCALING,
        params: W2_PARAMS,
        limit: 2
      })
    )
  ]
}

// ---------------------------------------------------------------------------------------------------------------
// W3 queue

const W3_SIZE = 1_000_000
const W3_PARAMS = { capacity: 1000, consumers: 4 }

const w3 = {
  effectQueue: { label: "Effect Queue take", file: "w3/effect-queue.ts" },
  effectQueueBatch: { label: "Effect Queue takeBetween", file: "w3/effect-queue-batch.ts" },
  channel: { label: "hand-written channel (promises)", file: "w3/channel.ts" },
  asyncioQueue: { label: "asyncio.Queue", file: "w3/asyncio_queue.py", python: asyncio },
  workQueue: { label: "WorkQueue take + taskDone", file: "w3/workqueue.ts", ours: true, requires: ["WorkQueue"] },
  workQueueBatch: {
    label: "WorkQueue takeBetween + taskDoneN",
    file: "w3/workqueue-batch.ts",
    ours: true,
    requires: ["WorkQueue"]
  },
  workerPool: { label: "WorkerPool", file: "w3/workerpool.ts", ours: true, requires: ["WorkerPool"] }
} satisfies Record<string, System>

const queueWorkload: Workload = {
  id: "w3",
  aliases: ["queue"],
  title: "W3 queue",
  about: `${n(W3_SIZE)} integers through a queue bounded at ${n(W3_PARAMS.capacity)}: one producer offers one ` +
    `item at a time, ${W3_PARAMS.consumers} consumers sum them (one at a time, or in batches of up to ` +
    `${n(W3_PARAMS.capacity)} where the row says so). asyncio and WorkQueue consumers also mark each item done ` +
    "(`task_done`); WorkerPool's handler adds the item and `drain` waits for all of them.",
  tables: [{
    kind: "systems",
    title: `${n(W3_SIZE)} items, capacity ${n(W3_PARAMS.capacity)}, ${W3_PARAMS.consumers} consumers`,
    size: W3_SIZE,
    params: W3_PARAMS,
    expect: triangle,
    systems: Object.values(w3),
    reference: w3.workQueue.label
  }],
  bars: [w3.workQueue, w3.workerPool].map((ours) =>
    ratioBar({
      name: `W3 ${ours.label} at least 3x faster than asyncio.Queue`,
      ours,
      other: w3.asyncioQueue,
      size: W3_SIZE,
      params: W3_PARAMS,
      ratio: (o, t) => timeRatio(t, o),
      limit: 3,
      atLeast: true,
      detail: timeDetail
    })
  )
}

// ---------------------------------------------------------------------------------------------------------------
// W4 fetch-all

/** CPU time per item of ours over the other's (the HTTP workloads report the measured process's CPU time). */
const cpuRatio = (ours: Summary, other: Summary): number => (ours.cpuMs / ours.size) / (other.cpuMs / other.size)

const cpuDetail = (ours: Summary, other: Summary): string =>
  `(${((ours.cpuMs * 1000) / ours.size).toFixed(1)} µs vs ${((other.cpuMs * 1000) / other.size).toFixed(1)} µs ` +
  "of CPU per request)"

const W4_SIZE = 20_000
const W4_PARAMS = { concurrency: 100 }

const w4 = {
  undici: { label: "undici Pool + p-limit", file: "w4/undici-pool.ts" },
  effectTraced: {
    label: "Effect HttpClient (undici, tracing on)",
    file: "w4/effect-httpclient.ts",
    params: { tracing: 1 },
    note: "Effect's default: a client span per request."
  },
  effect: {
    label: "Effect HttpClient (undici, tracing off)",
    file: "w4/effect-httpclient.ts",
    params: { tracing: 0 },
    note: "`HttpClient.TracerDisabledWhen` set to always, as HttpResilience does by default."
  },
  resilience: {
    label: "HttpResilience client + Effect.forEach",
    file: "w4/resilience.ts",
    ours: true,
    note: "`HttpResilience.layerUndici({ maxConnectionsPerHost: 100 })`, other options at their defaults (retries, " +
      "phase timeouts, pool-wait timeout, size cap, user-agent all on)."
  },
  fetchAll: { label: "FetchAll.fetchAll", file: "w4/fetchall.ts", ours: true, note: "on the client above." },
  aiohttp: {
    label: "aiohttp ClientSession + Semaphore",
    file: "w4/aiohttp_session.py",
    python: {
      imports: ["asyncio", "aiohttp"],
      hint: "aiohttp is not installed: `apt-get install python3-aiohttp` (Debian and Ubuntu; the harness prefers " +
        "`/usr/bin/python3`, the interpreter that package serves), or `pip install aiohttp` where PyPI is reachable"
    }
  }
} satisfies Record<string, System>

const fetchAllWorkload: Workload = {
  id: "w4",
  aliases: ["fetch-all"],
  title: "W4 fetch-all",
  about: `${n(W4_SIZE)} GETs, at most ${W4_PARAMS.concurrency} in flight, over keep-alive connections to one local ` +
    "server: a plain `node:http` server in a process of its own (`http/server.ts`, started once for the workload), " +
    "answering `GET /<i>` with the body `<i>`. Each client reads every body, parses it and checks that the answers " +
    "came back in input order.",
  tables: [{
    kind: "systems",
    title: `${n(W4_SIZE)} GETs, concurrency ${W4_PARAMS.concurrency}`,
    size: W4_SIZE,
    params: W4_PARAMS,
    expect: triangle,
    systems: Object.values(w4),
    reference: w4.fetchAll.label,
    rate: "req/s",
    cpu: true
  }],
  bars: [
    ratioBar({
      name: "W4 FetchAll.fetchAll within 1.3x of undici Pool + p-limit",
      ours: w4.fetchAll,
      other: w4.undici,
      size: W4_SIZE,
      params: W4_PARAMS,
      ratio: timeRatio,
      limit: 1.3,
      detail: timeDetail
    }),
    ratioBar({
      name: "W4 the same, on the client's CPU time (steadier on a shared machine)",
      ours: w4.fetchAll,
      other: w4.undici,
      size: W4_SIZE,
      params: W4_PARAMS,
      ratio: cpuRatio,
      limit: 1.3,
      detail: cpuDetail
    }),
    ratioBar({
      name: "W4 FetchAll.fetchAll at least 2x faster than aiohttp",
      ours: w4.fetchAll,
      other: w4.aiohttp,
      size: W4_SIZE,
      params: W4_PARAMS,
      ratio: (o, t) => timeRatio(t, o),
      limit: 2,
      atLeast: true,
      detail: timeDetail
    })
  ],
  setup: async () => {
    const server = await startServer()
    return { params: { port: server.port }, close: server.close }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// W6 server

const W6_SIZE = 100_000
const W6_PARAMS = { concurrency: 100, warmupPercent: 10 }

const w6 = {
  nodeHttp: { label: "node:http", file: "w6/node-http.ts" },
  bare: { label: "Effect HttpRouter, bare", file: "w6/effect-bare.ts" },
  kit: {
    label: "Effect HttpRouter + ServerKit",
    file: "w6/effect-serverkit.ts",
    ours: true,
    note: "problemJson, bodyLimit, deadlineHeader, timeout, loadShedding and inFlight in one " +
      "`HttpRouter.middleware(fn, { global: true })`, limits far above the load (nothing shed or timed out)."
  }
} satisfies Record<string, System>

const rps = (s: { readonly size: number; readonly medianMs: number }): string => fmtRate(s.size, s.medianMs)

const serverWorkload: Workload = {
  id: "w6",
  aliases: ["server"],
  title: "W6 server",
  about: `Requests per second of a server answering \`GET /hello\` with \`ok\` on 127.0.0.1: ${n(W6_SIZE)} ` +
    `requests over ${W6_PARAMS.concurrency} keep-alive connections, each sending its next request when the answer ` +
    "is in (no pipelining). The load comes from a process of its own (`http/loadgen.ts`, a minimal HTTP/1.1 client on " +
    "`node:net`, the role wrk plays elsewhere), which times the requests after an untimed warm-up of " +
    `${W6_PARAMS.warmupPercent}% more. The server and the generator share the machine's cores.`,
  tables: [{
    kind: "systems",
    title: `${n(W6_SIZE)} requests, ${W6_PARAMS.concurrency} connections`,
    size: W6_SIZE,
    params: W6_PARAMS,
    expect: (size) => size,
    systems: Object.values(w6),
    reference: w6.kit.label,
    rate: "req/s",
    cpu: true
  }],
  bars: [
    ratioBar({
      name: "W6 ServerKit keeps at least 90% of the bare Effect server's requests per second",
      ours: w6.kit,
      other: w6.bare,
      size: W6_SIZE,
      params: W6_PARAMS,
      ratio: (o, t) => timeRatio(t, o),
      limit: 0.9,
      atLeast: true,
      detail: (o, t) => `(${rps(o)} req/s vs ${rps(t)} req/s)`
    }),
    ratioBar({
      name: "W6 the same, on the server's CPU time per request: at most 1/0.9 of the bare server's",
      ours: w6.kit,
      other: w6.bare,
      size: W6_SIZE,
      params: W6_PARAMS,
      ratio: cpuRatio,
      limit: 1 / 0.9,
      detail: cpuDetail
    })
  ]
}

// ---------------------------------------------------------------------------------------------------------------
// W5 memory

const W5_SIZE = 100_000
const W5_PARAMS = { sleepMs: 1000 }

const w5 = {
  promises: { label: "Promise + setTimeout", file: "w5/promise-timeout.ts" },
  effectFibers: { label: "Effect fibers (forEach unbounded)", file: "w5/effect-fibers.ts" },
  taskGroup: { label: "TaskGroup", file: "w5/taskgroup.ts", ours: true, requires: ["TaskGroup"] },
  asyncioTasks: { label: "asyncio tasks", file: "w5/asyncio_tasks.py", python: asyncio }
} satisfies Record<string, System>

const mb = (kb: number): string => `${Math.round(kb / 1024)} MB`

const memoryWorkload: Workload = {
  id: "w5",
  aliases: ["memory"],
  title: "W5 memory",
  about: `${n(W5_SIZE)} tasks started at once, each sleeping 1 s. The column to read is peak RSS (the process's ` +
    "high-water mark, start-up and imports included); KiB/item is what the work added over the RSS before it.",
  tables: [{
    kind: "systems",
    title: `${n(W5_SIZE)} sleeping tasks`,
    size: W5_SIZE,
    params: W5_PARAMS,
    expect: (size) => size,
    systems: Object.values(w5),
    reference: w5.taskGroup.label,
    memoryPerItem: true
  }],
  bars: [
    ratioBar({
      name: "W5 TaskGroup peak RSS within 1.1x of bare Effect fibers",
      ours: w5.taskGroup,
      other: w5.effectFibers,
      size: W5_SIZE,
      params: W5_PARAMS,
      ratio: (o, t) => o.peakRssKb / t.peakRssKb,
      limit: 1.1,
      detail: (o, t) => `(${mb(o.peakRssKb)} vs ${mb(t.peakRssKb)})`
    })
  ]
}

// ---------------------------------------------------------------------------------------------------------------
// W7 wrapper cost

const W7_LOCKS = 50_000
const W7_DEADLINE = 50_000
const W7_QUEUE = 200_000

const w7 = {
  deadline: { label: "Deadline.within", file: "w7/deadline-within.ts", ours: true, requires: ["Deadline"] },
  timeout: { label: "Effect.timeout", file: "w7/effect-timeout.ts" },
  mutex: { label: "Mutex.withLock", file: "w7/mutex.ts", ours: true, requires: ["Mutex"] },
  semaphore1: { label: "Semaphore(1).withPermit", file: "w7/semaphore.ts", params: { permits: 1 } },
  limiter: { label: "Limiter.withPermit", file: "w7/limiter.ts", ours: true, requires: ["Limiter"] },
  semaphore10: { label: "Semaphore(10).withPermit", file: "w7/semaphore.ts", params: { permits: 10 } }
} satisfies Record<string, System>

const w7Pairs = [
  {
    ours: w1.taskGroup,
    raw: w1.effectForEach,
    size: W1_SIZE,
    expect: triangle,
    work: "W1's tasks, unbounded"
  },
  {
    ours: w1.gather,
    raw: w1.effectForEach,
    size: W1_SIZE,
    expect: triangle,
    work: "W1's tasks, unbounded"
  },
  {
    ours: w2.gather,
    raw: w2.effectForEach,
    size: W2_SIZE,
    params: W2_PARAMS,
    expect: triangle,
    work: "W2's tasks, concurrency 100"
  },
  {
    ours: w7.deadline,
    raw: w7.timeout,
    size: W7_DEADLINE,
    expect: triangle,
    work: "sequential calls awaiting one macrotask under a 1 s deadline"
  },
  {
    ours: w7.mutex,
    raw: w7.semaphore1,
    size: W7_LOCKS,
    params: { fibers: 100 },
    expect: triangle,
    work: "100 fibers, N acquisitions in all, each held across one macrotask"
  },
  {
    ours: w7.limiter,
    raw: w7.semaphore10,
    size: W7_LOCKS,
    params: { fibers: 100 },
    expect: triangle,
    work: "as above, 10 permits"
  },
  {
    ours: w3.workQueue,
    raw: w3.effectQueue,
    size: W7_QUEUE,
    params: W3_PARAMS,
    expect: triangle,
    work: "W3's queue, one item at a time"
  }
]

const wrapperWorkload: Workload = {
  id: "w7",
  aliases: ["wrappers"],
  title: "W7 wrapper cost",
  about: "Each of our modules against the raw Effect primitive it builds on, on the same work, metrics off. " +
    "`ours / raw` is the ratio of median wall times.",
  tables: [{ kind: "pairs", title: "Ours against the raw primitive", pairs: w7Pairs }],
  bars: w7Pairs.map((p): Bar =>
    ratioBar({
      name: `W7 ${p.ours.label} within 1.1x of ${p.raw.label} (${p.work})`,
      ours: p.ours,
      other: p.raw,
      size: p.size,
      ...(p.params === undefined ? {} : { params: p.params }),
      ratio: timeRatio,
      limit: 1.1,
      detail: timeDetail
    })
  )
}

// ---------------------------------------------------------------------------------------------------------------
// W8 distributed permits (issue 14)

const W8_LIMIT = 10
const W8_SOLO = { processes: 1, concurrency: 1, limit: W8_LIMIT }
const W8_FLEET = { processes: 4, concurrency: 8, limit: W8_LIMIT }
const W8_SOLO_SIZE = 5_000
const W8_FLEET_SIZE = 8_000

const w8 = {
  distributed: { label: "DistributedLimiter", file: "w8/distributed.ts", ours: true },
  redisSemaphore: { label: "redis-semaphore (ioredis)", file: "w8/redis-semaphore.ts" },
  limiter: { label: "core Limiter, in process (floor)", file: "w8/limiter.ts" }
} satisfies Record<string, System>

/** Every process takes `ceil(size / processes)` permits. */
const w8Permits = (processes: number) => (size: number): number => Math.ceil(size / processes) * processes

const w8Bar = (size: number, params: Readonly<Record<string, number>>, what: string): Bar =>
  ratioBar({
    name: `W8 DistributedLimiter at least redis-semaphore's permits/s (${what})`,
    ours: w8.distributed,
    other: w8.redisSemaphore,
    size,
    params,
    ratio: (o, t) => timeRatio(t, o),
    limit: 1,
    atLeast: true,
    detail: timeDetail
  })

const distributedWorkload: Workload = {
  id: "w8",
  aliases: ["distributed", "redis"],
  title: "W8 distributed permits",
  about: "Permits per second through `withPermit` around an empty task, limit " + W8_LIMIT + ", on one local " +
    "`redis-server` started for the workload: one process taking permits one at a time (uncontended), and 4 " +
    "processes with 8 loops each contending for the one limit. Each measurement spawns its processes, waits until " +
    "every one is connected, then times from `go` to the last one's end; CPU is the processes' user + system time " +
    "summed, per permit. Rows are skipped where no redis-server is found (`apt-get install redis-server`). " +
    "`node bench/redis.ts` runs the same measurement standalone.",
  tables: [
    {
      kind: "systems",
      title: `1 process, uncontended: ${n(W8_SOLO_SIZE)} permits`,
      size: W8_SOLO_SIZE,
      params: W8_SOLO,
      expect: w8Permits(W8_SOLO.processes),
      systems: Object.values(w8),
      reference: w8.distributed.label,
      rate: "permits/s",
      cpu: true
    },
    {
      kind: "systems",
      title: `4 processes contending: ${n(W8_FLEET_SIZE)} permits`,
      size: W8_FLEET_SIZE,
      params: W8_FLEET,
      expect: w8Permits(W8_FLEET.processes),
      systems: Object.values(w8),
      reference: w8.distributed.label,
      rate: "permits/s",
      cpu: true
    }
  ],
  bars: [
    w8Bar(W8_SOLO_SIZE, W8_SOLO, "1 process, uncontended"),
    w8Bar(W8_FLEET_SIZE, W8_FLEET, "4 processes contending")
  ],
  setup: async () => {
    if (!redisAvailable()) return { params: { port: 0 }, close: async () => {} }
    const server = await startRedis()
    return { params: { port: server.port }, close: server.close }
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** The workloads, in the order a full run runs them. */
export const workloads: ReadonlyArray<Workload> = [
  gatherWorkload,
  boundedWorkload,
  queueWorkload,
  fetchAllWorkload,
  memoryWorkload,
  serverWorkload,
  wrapperWorkload,
  distributedWorkload
]

/** Workloads that belong to a later issue: named here so the command line can say so (none at the moment). */
export const pending: ReadonlyArray<
  { readonly id: string; readonly aliases: ReadonlyArray<string>; readonly why: string }
> = []
