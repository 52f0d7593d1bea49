/**
 * The scripting half of FaultServer: validates and normalizes route scripts, owns the seeded PRNG and decides what
 * each request gets. Pure and synchronous once built (no sockets here).
 *
 * @internal
 */
import * as InvalidOption from "@async-ops/core/InvalidOption"
import { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { seeded } from "../Chaos.ts"
import type { Latency, Reply, RouteScript } from "../FaultServer.ts"

/** @internal */
export const MODULE = "FaultServer.make"

/** @internal */
export const invalid = (option: string, expected: string, value: unknown): Effect.Effect<never, InvalidOptionError> =>
  Effect.fail(new InvalidOptionError({ module: MODULE, option, expected, value }))

// ---------------------------------------------------------------------------------------------------------------
// PRNG: Chaos's mulberry32, one stream per route
// ---------------------------------------------------------------------------------------------------------------

/** FNV-1a over the route key, mixed with the seed: each route gets its own stream of decisions. */
const routeSeed = (seed: number, key: string): number => {
  let h = 0x811c9dc5 ^ (seed | 0)
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  // one extra mixing round so nearby seeds diverge at once
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  return h | 0
}

// ---------------------------------------------------------------------------------------------------------------
// Normalized scripts
// ---------------------------------------------------------------------------------------------------------------

/** Draws a latency in milliseconds. @internal */
export type Sampler = (random: () => number) => number

/** A normalized reply. @internal */
export type Action =
  | {
    readonly _tag: "Respond"
    readonly status: number
    readonly body: string | undefined
    readonly headers: Readonly<Record<string, string>>
    readonly retryAfter: number | undefined
    readonly retryAfterFormat: "seconds" | "http-date"
    readonly latency: Sampler | undefined
  }
  | { readonly _tag: "Echo"; readonly status: number; readonly latency: Sampler | undefined }
  | { readonly _tag: "Reset"; readonly afterBytes: number | undefined; readonly latency: Sampler | undefined }
  | {
    readonly _tag: "Hang"
    readonly afterHeaders: boolean
    readonly status: number
    readonly latency: Sampler | undefined
  }
  | {
    readonly _tag: "Trickle"
    readonly status: number
    readonly chunks: number
    readonly delay: number
    readonly chunkBytes: number
    readonly latency: Sampler | undefined
  }
  | {
    readonly _tag: "Large"
    readonly status: number
    readonly bytes: number
    readonly chunkBytes: number
    readonly chunked: boolean
    readonly latency: Sampler | undefined
  }
  | { readonly _tag: "Sink"; readonly status: number; readonly latency: Sampler | undefined }
  | { readonly _tag: "NotFound"; readonly latency: undefined }

/** How a route picks its action. @internal */
export type Picker =
  | { readonly _tag: "Fixed"; readonly action: Action }
  | { readonly _tag: "Mix"; readonly actions: ReadonlyArray<Action>; readonly cumulative: ReadonlyArray<number> }
  | { readonly _tag: "Sequence"; readonly actions: ReadonlyArray<Action>; readonly end: "cycle" | "repeat-last" }

/** A normalized route. @internal */
export interface Route {
  /** The key as given (`"/a"`, `"/a/*"`), `"(default)"` for the default route, `"(none)"` for the 404 route. */
  readonly key: string
  readonly latency: Sampler | undefined
  readonly picker: Picker
  /** The most requests served at once (the rest wait in arrival order); `undefined`: no limit. */
  readonly concurrency?: number | undefined
}

/** A request of a route with `concurrency`: waiting for, holding, or done with one of its slots. @internal */
export interface Slot {
  resume: ((effect: Effect.Effect<void>) => void) | undefined
  held: boolean
  gone: boolean
}

/** A route's running state: its PRNG and how many requests it has answered. @internal */
export interface RouteState {
  readonly route: Route
  random: () => number
  count: number
  /** Requests holding a slot (routes with `concurrency`). */
  active: number
  /** Requests waiting for a slot, in arrival order (some may be gone: skipped). */
  readonly waiting: Array<Slot>
}

/** Waits for one of the route's `concurrency` slots (at once without a limit). @internal */
export const enter = (state: RouteState, slot: Slot): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const limit = state.route.concurrency
    if (slot.gone || limit === undefined || state.active < limit) {
      if (!slot.gone) {
        state.active++
        slot.held = true
      }
      resume(Effect.void)
      return
    }
    slot.resume = resume
    state.waiting.push(slot)
    return Effect.sync(() => leave(state, slot))
  })

/** The request ended (or its wait was cut short): gives its slot to the next waiting request. @internal */
export const leave = (state: RouteState, slot: Slot): void => {
  if (slot.gone) return
  slot.gone = true
  slot.resume = undefined
  if (!slot.held) return
  slot.held = false
  state.active--
  while (state.waiting.length > 0) {
    const next = state.waiting.shift()!
    if (next.gone || next.resume === undefined) continue
    state.active++
    next.held = true
    const resume = next.resume
    next.resume = undefined
    resume(Effect.void)
    break
  }
}

/** What one request gets. @internal */
export interface Decision {
  readonly action: Action
  /** Milliseconds to wait before acting. */
  readonly latency: number
}

/** @internal */
export const decide = (state: RouteState): Decision => {
  const { picker } = state.route
  let action: Action
  switch (picker._tag) {
    case "Fixed": {
      action = picker.action
      break
    }
    case "Mix": {
      action = pickWeighted(picker.actions, picker.cumulative, state.random())
      break
    }
    case "Sequence": {
      const n = picker.actions.length
      const i = picker.end === "cycle" ? state.count % n : Math.min(state.count, n - 1)
      action = picker.actions[i]!
      break
    }
  }
  state.count++
  const sampler = action.latency ?? state.route.latency
  const latency = sampler === undefined ? 0 : sampler(state.random)
  return { action, latency }
}

/** @internal */
export const makeRouteState = (route: Route, seed: number): RouteState => ({
  route,
  random: seeded(routeSeed(seed, route.key)).next,
  count: 0,
  active: 0,
  waiting: []
})

/** @internal */
export const rewind = (state: RouteState, seed: number): void => {
  state.random = seeded(routeSeed(seed, state.route.key)).next
  state.count = 0
}

const pickWeighted = <A>(items: ReadonlyArray<A>, cumulative: ReadonlyArray<number>, u: number): A => {
  const target = u * cumulative[cumulative.length - 1]!
  for (let i = 0; i < cumulative.length; i++) {
    if (target < cumulative[i]!) return items[i]!
  }
  // only reachable through rounding at the very top: the last item with a positive weight
  for (let i = items.length - 1; i >= 0; i--) {
    if (cumulative[i]! > (i === 0 ? 0 : cumulative[i - 1]!)) return items[i]!
  }
  return items[items.length - 1]!
}

/** The route unmatched requests get when there is no default route. @internal */
export const notFoundRoute: Route = {
  key: "(none)",
  latency: undefined,
  picker: { _tag: "Fixed", action: { _tag: "NotFound", latency: undefined } }
}

// ---------------------------------------------------------------------------------------------------------------
// Route table
// ---------------------------------------------------------------------------------------------------------------

/** Exact routes first, then the longest matching prefix, then the default. @internal */
export interface RouteTable {
  readonly exact: ReadonlyMap<string, RouteState>
  /** Prefix routes, longest first; `prefix` is the key without the trailing `*` (ends with `/`). */
  readonly prefixes: ReadonlyArray<{ readonly prefix: string; readonly state: RouteState }>
  readonly fallback: RouteState
  readonly all: ReadonlyArray<RouteState>
}

/** @internal */
export const match = (table: RouteTable, path: string): RouteState => {
  const exact = table.exact.get(path)
  if (exact !== undefined) return exact
  for (const { prefix, state } of table.prefixes) {
    // "/a/*" matches "/a" itself and everything under "/a/"
    if (path.startsWith(prefix) || path === prefix.slice(0, -1)) return state
  }
  return table.fallback
}

// ---------------------------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------------------------

/** A finite duration >= 0, in milliseconds. */
const millisOf = (option: string, value: unknown): Effect.Effect<number, InvalidOptionError> =>
  Effect.fromResult(
    Result.map(
      InvalidOption.duration(MODULE, option, value as Duration.Input | undefined, { finite: true }),
      Duration.toMillis
    )
  )

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

const weights = (
  option: string,
  entries: ReadonlyArray<unknown>
): Effect.Effect<ReadonlyArray<number>, InvalidOptionError> =>
  Effect.gen(function*() {
    const cumulative: Array<number> = []
    let total = 0
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]
      if (!Array.isArray(entry) || entry.length !== 2) {
        return yield* invalid(`${option}[${i}]`, "a [value, weight] pair", entry)
      }
      const weight: unknown = entry[1]
      if (typeof weight !== "number" || !Number.isFinite(weight) || weight < 0) {
        return yield* invalid(`${option}[${i}][1]`, "a finite weight >= 0", weight)
      }
      total += weight
      cumulative.push(total)
    }
    if (entries.length === 0 || total <= 0) {
      return yield* invalid(option, "a non-empty list whose weights sum to more than 0", entries)
    }
    return cumulative
  })

/** @internal */
export const latency = (
  option: string,
  value: Latency | undefined
): Effect.Effect<Sampler | undefined, InvalidOptionError> =>
  Effect.gen(function*() {
    if (value === undefined) return undefined
    if (!isRecord(value) || Duration.isDuration(value) || !("kind" in value)) {
      const ms = yield* millisOf(option, value)
      return () => ms
    }
    switch (value.kind) {
      case "uniform": {
        const min = yield* millisOf(`${option}.min`, value.min)
        const max = yield* millisOf(`${option}.max`, value.max)
        if (max < min) return yield* invalid(`${option}.max`, `a duration >= min (${min} ms)`, value.max)
        return (random) => min + random() * (max - min)
      }
      case "normal": {
        const mean = yield* millisOf(`${option}.mean`, value.mean)
        const stddev = yield* millisOf(`${option}.stddev`, value.stddev)
        const cap = value.max === undefined ? Number.POSITIVE_INFINITY : yield* millisOf(`${option}.max`, value.max)
        return (random) => clamp(mean + stddev * standardNormal(random), cap)
      }
      case "lognormal": {
        const median = yield* millisOf(`${option}.median`, value.median)
        if (typeof value.sigma !== "number" || !Number.isFinite(value.sigma) || value.sigma < 0) {
          return yield* invalid(`${option}.sigma`, "a finite number >= 0", value.sigma)
        }
        const sigma = value.sigma
        const cap = value.max === undefined ? Number.POSITIVE_INFINITY : yield* millisOf(`${option}.max`, value.max)
        return (random) => clamp(median * Math.exp(sigma * standardNormal(random)), cap)
      }
      case "weighted": {
        const choices = value.choices as unknown
        if (!Array.isArray(choices)) {
          return yield* invalid(`${option}.choices`, "a list of [latency, weight] pairs", choices)
        }
        const cumulative = yield* weights(`${option}.choices`, choices)
        const values: Array<number> = []
        for (let i = 0; i < choices.length; i++) {
          values.push(yield* millisOf(`${option}.choices[${i}][0]`, (choices[i] as ReadonlyArray<unknown>)[0]))
        }
        return (random) => pickWeighted(values, cumulative, random())
      }
      default:
        return yield* invalid(
          `${option}.kind`,
          "one of \"uniform\", \"normal\", \"lognormal\", \"weighted\"",
          (value as { readonly kind: unknown }).kind
        )
    }
  })

const clamp = (ms: number, cap: number): number => Math.min(Math.max(ms, 0), cap)

/** Box-Muller: one standard normal draw from two uniforms. */
const standardNormal = (random: () => number): number => {
  const u1 = 1 - random() // (0, 1], so the log is finite
  const u2 = random()
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2)
}

const statusOf = (option: string, value: unknown, fallback: number): Effect.Effect<number, InvalidOptionError> => {
  if (value === undefined) return Effect.succeed(fallback)
  return typeof value === "number" && Number.isInteger(value) && value >= 200 && value <= 599
    ? Effect.succeed(value)
    : invalid(option, "an integer status code from 200 to 599", value)
}

const count = (
  option: string,
  value: unknown,
  min: number,
  fallback?: number
): Effect.Effect<number, InvalidOptionError> => {
  if (value === undefined && fallback !== undefined) return Effect.succeed(fallback)
  return Effect.fromResult(InvalidOption.int(MODULE, option, value, { min }))
}

const allowedKeys: Record<string, ReadonlySet<string>> = {
  respond: new Set(["kind", "status", "body", "headers", "retryAfter", "retryAfterFormat", "latency"]),
  echo: new Set(["kind", "status", "latency"]),
  reset: new Set(["kind", "afterBytes", "latency"]),
  hang: new Set(["kind", "afterHeaders", "status", "latency"]),
  trickle: new Set(["kind", "chunks", "delay", "chunkBytes", "status", "latency"]),
  large: new Set(["kind", "bytes", "chunkBytes", "chunked", "status", "latency"]),
  sink: new Set(["kind", "status", "latency"])
}

const unknownKey = (option: string, value: Record<string, unknown>, kind: string) => {
  const allowed = allowedKeys[kind]!
  const extra = Object.keys(value).find((k) => !allowed.has(k))
  return extra === undefined
    ? Effect.void
    : invalid(`${option}.${extra}`, `absent (a "${kind}" reply takes ${Array.from(allowed).join(", ")})`, value[extra])
}

/** @internal */
export const reply = (option: string, value: Reply): Effect.Effect<Action, InvalidOptionError> =>
  Effect.gen(function*() {
    if (typeof value === "number") {
      const status = yield* statusOf(option, value, 200)
      return respond(status, undefined, {}, undefined, "seconds", undefined)
    }
    if (value === "echo") return { _tag: "Echo", status: 200, latency: undefined }
    if (value === "reset") return { _tag: "Reset", afterBytes: undefined, latency: undefined }
    if (value === "hang") return { _tag: "Hang", afterHeaders: false, status: 200, latency: undefined }
    if (value === "sink") return { _tag: "Sink", status: 200, latency: undefined }
    if (typeof value !== "object" || value === null) {
      return yield* invalid(
        option,
        "a status code, \"echo\", \"reset\", \"hang\", \"sink\" or a reply object",
        value
      )
    }
    const kind: unknown = value.kind ?? "respond"
    if (typeof kind !== "string" || !(kind in allowedKeys)) {
      return yield* invalid(
        `${option}.kind`,
        "one of \"respond\", \"echo\", \"reset\", \"hang\", \"trickle\", \"large\", \"sink\"",
        kind
      )
    }
    yield* unknownKey(option, value as Record<string, unknown>, kind)
    const lat = yield* latency(`${option}.latency`, value.latency)
    switch (value.kind) {
      case undefined:
      case "respond": {
        const status = yield* statusOf(`${option}.status`, value.status, 200)
        if (value.body !== undefined && typeof value.body !== "string") {
          return yield* invalid(`${option}.body`, "a string", value.body)
        }
        const headers: Record<string, string> = {}
        if (value.headers !== undefined) {
          if (!isRecord(value.headers)) return yield* invalid(`${option}.headers`, "a record of strings", value.headers)
          for (const [name, v] of Object.entries(value.headers)) {
            if (typeof v !== "string" || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name) || /[\r\n]/.test(v)) {
              return yield* invalid(`${option}.headers.${name}`, "a valid header name with a string value", v)
            }
            headers[name.toLowerCase()] = v
          }
        }
        if (value.retryAfter !== undefined) yield* count(`${option}.retryAfter`, value.retryAfter, 0)
        const format = value.retryAfterFormat ?? "seconds"
        if (format !== "seconds" && format !== "http-date") {
          return yield* invalid(`${option}.retryAfterFormat`, "\"seconds\" or \"http-date\"", format)
        }
        return respond(status, value.body, headers, value.retryAfter, format, lat)
      }
      case "echo": {
        return { _tag: "Echo", status: yield* statusOf(`${option}.status`, value.status, 200), latency: lat }
      }
      case "reset": {
        const afterBytes = value.afterBytes === undefined
          ? undefined
          : yield* count(`${option}.afterBytes`, value.afterBytes, 0)
        return { _tag: "Reset", afterBytes, latency: lat }
      }
      case "hang": {
        if (value.afterHeaders !== undefined && typeof value.afterHeaders !== "boolean") {
          return yield* invalid(`${option}.afterHeaders`, "a boolean", value.afterHeaders)
        }
        return {
          _tag: "Hang",
          afterHeaders: value.afterHeaders ?? false,
          status: yield* statusOf(`${option}.status`, value.status, 200),
          latency: lat
        }
      }
      case "trickle": {
        const chunks = yield* count(`${option}.chunks`, value.chunks, 1)
        const delay = yield* millisOf(`${option}.delay`, value.delay)
        const chunkBytes = yield* count(`${option}.chunkBytes`, value.chunkBytes, 1, 8)
        const status = yield* statusOf(`${option}.status`, value.status, 200)
        return { _tag: "Trickle", status, chunks, delay, chunkBytes, latency: lat }
      }
      case "large": {
        const bytes = yield* count(`${option}.bytes`, value.bytes, 0)
        const chunkBytes = yield* count(`${option}.chunkBytes`, value.chunkBytes, 1, 64 * 1024)
        const status = yield* statusOf(`${option}.status`, value.status, 200)
        if (value.chunked !== undefined && typeof value.chunked !== "boolean") {
          return yield* invalid(`${option}.chunked`, "a boolean", value.chunked)
        }
        return { _tag: "Large", status, bytes, chunkBytes, chunked: value.chunked ?? false, latency: lat }
      }
      case "sink": {
        return { _tag: "Sink", status: yield* statusOf(`${option}.status`, value.status, 200), latency: lat }
      }
      default:
        return yield* invalid(`${option}.kind`, "a known reply kind", kind)
    }
  })

const respond = (
  status: number,
  body: string | undefined,
  headers: Readonly<Record<string, string>>,
  retryAfter: number | undefined,
  retryAfterFormat: "seconds" | "http-date",
  latency: Sampler | undefined
): Action => ({ _tag: "Respond", status, body, headers, retryAfter, retryAfterFormat, latency })

const scriptKeys = new Set(["latency", "reply", "mix", "sequence", "sequenceEnd", "concurrency"])

/** @internal */
export const route = (option: string, key: string, value: RouteScript): Effect.Effect<Route, InvalidOptionError> =>
  Effect.gen(function*() {
    if (typeof value !== "object" || value === null) return yield* invalid(option, "a route script object", value)
    const extra = Object.keys(value).find((k) => !scriptKeys.has(k))
    if (extra !== undefined) {
      return yield* invalid(
        `${option}.${extra}`,
        "absent (a route takes latency, reply, mix, sequence, sequenceEnd, concurrency)",
        (value as Record<string, unknown>)[extra]
      )
    }
    const lat = yield* latency(`${option}.latency`, value.latency)
    const concurrency = value.concurrency === undefined
      ? undefined
      : yield* count(`${option}.concurrency`, value.concurrency, 1)
    const given = ["reply", "mix", "sequence"].filter((k) => value[k as "reply"] !== undefined)
    if (given.length > 1) {
      return yield* invalid(option, "at most one of reply, mix, sequence", given)
    }
    if (value.sequenceEnd !== undefined && value.sequenceEnd !== "cycle" && value.sequenceEnd !== "repeat-last") {
      return yield* invalid(`${option}.sequenceEnd`, "\"cycle\" or \"repeat-last\"", value.sequenceEnd)
    }
    if (value.mix !== undefined) {
      const mix = value.mix as unknown
      if (!Array.isArray(mix)) return yield* invalid(`${option}.mix`, "a list of [reply, weight] pairs", mix)
      const cumulative = yield* weights(`${option}.mix`, mix)
      const actions: Array<Action> = []
      for (let i = 0; i < mix.length; i++) {
        actions.push(yield* reply(`${option}.mix[${i}][0]`, (mix[i] as ReadonlyArray<Reply>)[0]!))
      }
      return { key, latency: lat, picker: { _tag: "Mix", actions, cumulative }, concurrency }
    }
    if (value.sequence !== undefined) {
      const sequence = value.sequence as unknown
      if (!Array.isArray(sequence) || sequence.length === 0) {
        return yield* invalid(`${option}.sequence`, "a non-empty list of replies", sequence)
      }
      const actions: Array<Action> = []
      for (let i = 0; i < sequence.length; i++) {
        actions.push(yield* reply(`${option}.sequence[${i}]`, sequence[i] as Reply))
      }
      return {
        key,
        latency: lat,
        picker: { _tag: "Sequence", actions, end: value.sequenceEnd ?? "cycle" },
        concurrency
      }
    }
    const action = yield* reply(`${option}.reply`, value.reply ?? 200)
    return { key, latency: lat, picker: { _tag: "Fixed", action }, concurrency }
  })

/** @internal */
export const routeTable = (
  routes: Readonly<Record<string, RouteScript>> | undefined,
  defaultRoute: RouteScript | undefined,
  seed: number
): Effect.Effect<RouteTable, InvalidOptionError> =>
  Effect.gen(function*() {
    if (routes !== undefined && !isRecord(routes)) return yield* invalid("routes", "a record of route scripts", routes)
    const exact = new Map<string, RouteState>()
    const prefixes: Array<{ prefix: string; state: RouteState }> = []
    const all: Array<RouteState> = []
    for (const [key, script] of Object.entries(routes ?? {})) {
      const option = `routes[${JSON.stringify(key)}]`
      if (!/^\/[^*?#\s]*(\/\*)?$/.test(key) && key !== "/*") {
        return yield* invalid(
          option,
          "a key that is a path (\"/a/b\") or a prefix ending in \"/*\" (\"/a/*\"), without ?, # or other *",
          key
        )
      }
      const state = makeRouteState(yield* route(option, key, script), seed)
      all.push(state)
      if (key.endsWith("/*")) prefixes.push({ prefix: key.slice(0, -1), state })
      else exact.set(key, state)
    }
    prefixes.sort((a, b) => b.prefix.length - a.prefix.length)
    const fallback = makeRouteState(
      defaultRoute === undefined ? notFoundRoute : yield* route("defaultRoute", "(default)", defaultRoute),
      seed
    )
    all.push(fallback)
    return { exact, prefixes, fallback, all }
  })
