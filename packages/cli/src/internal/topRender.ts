/**
 * The frames of `async-ops top`: a pure function of a snapshot (and the one before it, for rates), the view's
 * sort and filter, and the terminal width.
 *
 * @internal
 */
import type { Snapshot } from "@async-ops/service/Introspection"

/** @internal */
export type TaskSort = "age" | "name" | "state"

/** @internal */
export const TASK_SORTS: ReadonlyArray<TaskSort> = ["age", "name", "state"]

/** @internal */
export interface View {
  /** The terminal width in columns (at least 40 is used). */
  readonly width: number
  /** How tasks are ordered: oldest first, by name, or by state. */
  readonly sort: TaskSort
  /** Only rows whose name (or owner, key, host) contains this text, case-insensitive; "" shows everything. */
  readonly filter: string
  /** The source shown in the header. */
  readonly source: string
  /** A line to show under the header (an error while refreshing, the filter being typed), or "". */
  readonly status?: string | undefined
}

type Stats = Readonly<Record<string, unknown>>
type Primitive = Snapshot["primitives"][number]

const num = (stats: Stats, key: string): number | undefined => {
  const v = stats[key]
  return typeof v === "number" && Number.isFinite(v) ? v : undefined
}

/** A count or limit as shown: "∞" for an unbounded one (`null` in JSON), "-" when not reported. */
const count = (stats: Stats, key: string): string => {
  if (stats[key] === null) return "∞"
  const v = num(stats, key)
  return v === undefined ? "-" : Number.isInteger(v) ? String(v) : v.toFixed(1)
}

/** Rejections in all: `rejected`, or a bulkhead's two kinds of rejection added up. */
const rejectedOf = (stats: Stats): number | undefined => {
  const rejected = num(stats, "rejected")
  if (rejected !== undefined) return rejected
  const full = num(stats, "rejectedQueueFull")
  const timeout = num(stats, "rejectedQueueTimeout")
  return full === undefined && timeout === undefined ? undefined : (full ?? 0) + (timeout ?? 0)
}

/** @internal */
export const formatAge = (ms: number): string => {
  if (ms < 1000) return `${Math.round(ms)}ms`
  const s = ms / 1000
  if (s < 60) return `${s.toFixed(1)}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, "0")}s`
  const h = Math.floor(m / 60)
  return `${h}h${String(m % 60).padStart(2, "0")}m`
}

/** Fits `text` in exactly `width` columns: cut with an ellipsis, or padded (right-aligned when `right`). */
const fit = (text: string, width: number, right = false): string => {
  if (width <= 0) return ""
  if (text.length > width) return width === 1 ? "…" : `${text.slice(0, width - 1)}…`
  return right ? text.padStart(width) : text.padEnd(width)
}

interface Column {
  readonly title: string
  /** Fixed width, or undefined: the flexible column (takes what is left). */
  readonly width?: number
  readonly right?: boolean
}

/** A table: a title line, a header and rows, every line exactly `width` wide. */
const table = (
  title: string,
  columns: ReadonlyArray<Column>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  width: number,
  empty: string
): Array<string> => {
  const fixed = columns.reduce((n, c) => n + (c.width ?? 0) + 1, 0)
  const flex = Math.max(8, width - fixed)
  const line = (cells: ReadonlyArray<string>) =>
    fit(
      columns.map((c, i) => fit(cells[i] ?? "", c.width ?? flex, c.right === true)).join(" "),
      width
    )
  const out = [fit(title, width), line(columns.map((c) => c.title))]
  if (rows.length === 0) out.push(fit(`  ${empty}`, width))
  for (const row of rows) out.push(line(row))
  return out
}

const matches = (filter: string, ...texts: ReadonlyArray<string>): boolean => {
  if (filter === "") return true
  const f = filter.toLowerCase()
  return texts.some((t) => t.toLowerCase().includes(f))
}

/** Rejections per second between two snapshots, or "-" without a previous one. */
const rate = (now: Primitive, nowAt: number, previous: Snapshot | undefined): string => {
  const rejected = rejectedOf(now.stats)
  if (rejected === undefined) return "-"
  if (previous === undefined) return "-"
  const before = previous.primitives.find((p) => p.kind === now.kind && p.name === now.name)
  const was = before === undefined ? undefined : rejectedOf(before.stats)
  const seconds = (nowAt - previous.at) / 1000
  if (was === undefined || seconds <= 0) return "-"
  return (Math.max(0, rejected - was) / seconds).toFixed(1)
}

const ADMISSION_KINDS = new Set(["Limiter", "AdaptiveLimiter", "KeyedLimiter", "Bulkhead"])
const QUEUE_KINDS = new Set(["WorkQueue", "WorkerPool"])
const SYNC_KINDS = new Set(["Mutex", "RWLock", "KeyedMutex", "Condition", "Barrier", "TaskGroup", "Periodic"])

const admissionRows = (snapshot: Snapshot, previous: Snapshot | undefined, filter: string) => {
  const rows: Array<Array<string>> = []
  for (const p of snapshot.primitives) {
    if (!ADMISSION_KINDS.has(p.kind)) continue
    const perKeys = Array.isArray(p.stats.perKeys) ? p.stats.perKeys as ReadonlyArray<Stats> : []
    const keyRows = perKeys.filter((k) => matches(filter, p.name, String(k.key)))
    if (!matches(filter, p.name) && keyRows.length === 0) continue
    const bulkhead = p.kind === "Bulkhead"
    rows.push([
      p.name,
      p.kind,
      bulkhead ? count(p.stats, "maxConcurrent") : count(p.stats, "limit"),
      count(p.stats, "inFlight"),
      bulkhead ? count(p.stats, "queued") : count(p.stats, "waiting"),
      String(rejectedOf(p.stats) ?? "-"),
      rate(p, snapshot.at, previous)
    ])
    for (const k of keyRows) {
      rows.push([
        `  ${String(k.key)}`,
        "per key",
        count(p.stats, "perKey"),
        count(k, "inFlight"),
        count(k, "waiting"),
        "",
        ""
      ])
    }
  }
  return rows
}

const queueRows = (snapshot: Snapshot, filter: string) =>
  snapshot.primitives.filter((p) => QUEUE_KINDS.has(p.kind) && matches(filter, p.name)).map((p) =>
    p.kind === "WorkQueue"
      ? [
        p.name,
        p.kind,
        count(p.stats, "size"),
        count(p.stats, "unfinished"),
        count(p.stats, "waitingTakers"),
        String(p.stats.state ?? "")
      ]
      : [
        p.name,
        p.kind,
        count(p.stats, "queued"),
        String((num(p.stats, "queued") ?? 0) + (num(p.stats, "active") ?? 0)),
        String(Math.max(0, (num(p.stats, "workers") ?? 0) - (num(p.stats, "active") ?? 0))),
        String(p.stats.state ?? "")
      ]
  )

const breakerRows = (snapshot: Snapshot, filter: string) => {
  const rows: Array<Array<string>> = []
  for (const p of snapshot.primitives) {
    if (p.kind !== "HttpClient") continue
    const breakers = typeof p.stats.breakers === "object" && p.stats.breakers !== null
      ? p.stats.breakers as Readonly<Record<string, unknown>>
      : {}
    for (const [host, state] of Object.entries(breakers)) {
      if (matches(filter, p.name, host)) rows.push([host, p.name, String(state)])
    }
  }
  return rows
}

const syncState = (p: Primitive): [string, string] => {
  const s = p.stats
  switch (p.kind) {
    case "Mutex":
      return [s.locked === true ? "locked" : "free", count(s, "waiting")]
    case "RWLock":
      return [
        s.writer === true ? "writer" : `${count(s, "readers")} readers`,
        String((num(s, "waitingReaders") ?? 0) + (num(s, "waitingWriters") ?? 0))
      ]
    case "KeyedMutex":
      return [`${count(s, "size")} keys`, count(s, "waiting")]
    case "Barrier":
      return [s.broken === true ? "broken" : `${count(s, "waiting")}/${count(s, "parties")}`, count(s, "waiting")]
    case "TaskGroup":
      return [`${String(s.state ?? "")} ${count(s, "running")} running`, count(s, "pending")]
    case "Periodic":
      return [`${s.running === true ? "running" : "idle"} ${count(s, "runs")} runs ${count(s, "failures")} failed`, "-"]
    default:
      return ["", count(s, "waiting")]
  }
}

const compareTasks = (sort: TaskSort) => (a: Snapshot["tasks"][number], b: Snapshot["tasks"][number]): number => {
  switch (sort) {
    case "age":
      return b.ageMs - a.ageMs || a.name.localeCompare(b.name)
    case "name":
      return a.name.localeCompare(b.name) || a.owner.localeCompare(b.owner)
    case "state":
      return a.state.localeCompare(b.state) || b.ageMs - a.ageMs
  }
}

/**
 * One frame: every line exactly `view.width` columns (no colour codes, so tests compare text), sections in a
 * fixed order, empty sections saying so.
 *
 * @internal
 */
export const render = (snapshot: Snapshot, previous: Snapshot | undefined, view: View): Array<string> => {
  const width = Math.max(40, Math.floor(view.width))
  const filter = view.filter
  const shutdown = snapshot.primitives.find((p) => p.kind === "Shutdown")
  const loop = snapshot.primitives.find((p) => p.kind === "EventLoopMonitor")
  const header = [
    `async-ops top ${view.source}`,
    `up ${formatAge(snapshot.uptimeMs)}`,
    `shutdown: ${shutdown === undefined ? "-" : String(shutdown.stats.phase ?? "-")}`,
    `event loop p99: ${loop === undefined ? "-" : `${count(loop.stats, "p99")}ms`}`,
    ...(loop === undefined ? [] : [`max ${count(loop.stats, "max")}ms`])
  ].join("  ")
  const lines: Array<string> = [fit(header, width)]
  lines.push(fit(view.status ?? "", width))
  const tasks = snapshot.tasks.filter((t) => matches(filter, t.name, t.owner)).toSorted(compareTasks(view.sort))
  lines.push(
    ...table(
      `TASKS (${tasks.length}) sorted by ${view.sort}`,
      [{ title: "NAME" }, { title: "OWNER", width: 16 }, { title: "STATE", width: 12 }, {
        title: "AGE",
        width: 8,
        right: true
      }],
      tasks.map((t) => [t.name, t.owner, t.state, formatAge(t.ageMs)]),
      width,
      "no live tasks"
    ),
    fit("", width),
    ...table(
      "ADMISSION",
      [
        { title: "NAME" },
        { title: "KIND", width: 15 },
        { title: "LIMIT", width: 6, right: true },
        { title: "IN FLIGHT", width: 9, right: true },
        { title: "WAITING", width: 7, right: true },
        { title: "REJECTED", width: 8, right: true },
        { title: "REJ/S", width: 6, right: true }
      ],
      admissionRows(snapshot, previous, filter),
      width,
      "no named limiters"
    ),
    fit("", width),
    ...table(
      "QUEUES",
      [
        { title: "NAME" },
        { title: "KIND", width: 10 },
        { title: "DEPTH", width: 6, right: true },
        { title: "UNFINISHED", width: 10, right: true },
        { title: "CONSUMERS WAITING", width: 17, right: true },
        { title: "STATE", width: 9 }
      ],
      queueRows(snapshot, filter),
      width,
      "no named queues"
    ),
    fit("", width),
    ...table(
      "BREAKERS",
      [{ title: "HOST" }, { title: "CLIENT", width: 16 }, { title: "STATE", width: 9 }],
      breakerRows(snapshot, filter),
      width,
      "no breaker has seen a failure"
    ),
    fit("", width),
    ...table(
      "LOCKS, GROUPS AND PERIODIC JOBS",
      [{ title: "NAME" }, { title: "KIND", width: 10 }, { title: "STATE", width: 20 }, {
        title: "WAITING",
        width: 7,
        right: true
      }],
      snapshot.primitives.filter((p) => SYNC_KINDS.has(p.kind) && matches(filter, p.name)).map((p) => [
        p.name,
        p.kind,
        ...syncState(p)
      ]),
      width,
      "none"
    ),
    fit("", width),
    fit(`q quit  s sort (${view.sort})  / filter${filter === "" ? "" : ` "${filter}"`}  esc clear`, width)
  )
  return lines
}
