/// <reference types="node" />
/**
 * The serving half of FaultServer: one `node:http` server per loopback address, each served through Effect's
 * `NodeHttpServer`, the bookkeeping of requests, connections and concurrency, and a stop that leaves no socket open.
 *
 * @internal
 */
import * as InvalidOption from "@async-ops/core/InvalidOption"
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Multipart from "effect/http/Multipart"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import * as Http from "node:http"
import type * as Net from "node:net"
import type { FaultServer, HostStats, Options, Recorded, SinkPart, SinkReport, Stats } from "../FaultServer.ts"
import { ListenError } from "../FaultServer.ts"
import * as Script from "./faultServerScript.ts"

/** The server runs on real sockets, so its time is always real, also under `TestClock`. */
const liveClock: Clock.Clock = Clock.Clock.defaultValue()

// ---------------------------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------------------------

interface Config {
  readonly addresses: ReadonlyArray<string>
  readonly port: number
  readonly seed: number
  readonly table: Script.RouteTable
  readonly shutdownGrace: number
  readonly maxRecorded: number
}

const loopback = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/

const config = (options: Options): Effect.Effect<Config, InvalidOptionError> =>
  Effect.gen(function*() {
    if (typeof options !== "object" || options === null) {
      return yield* Script.invalid("options", "an options object", options)
    }
    const hosts = options.hosts ?? 1
    let addresses: Array<string>
    if (typeof hosts === "number") {
      if (!Number.isInteger(hosts) || hosts < 1 || hosts > 254) {
        return yield* Script.invalid("hosts", "an integer from 1 to 254 or a list of 127.x.y.z addresses", hosts)
      }
      addresses = Array.from({ length: hosts }, (_, i) => `127.0.0.${i + 1}`)
    } else {
      if (!Array.isArray(hosts) || hosts.length === 0) {
        return yield* Script.invalid(
          "hosts",
          "an integer from 1 to 254 or a non-empty list of 127.x.y.z addresses",
          hosts
        )
      }
      addresses = []
      for (let i = 0; i < hosts.length; i++) {
        const address: unknown = hosts[i]
        const m = typeof address === "string" ? loopback.exec(address) : null
        if (m === null || m.slice(1).some((octet) => Number(octet) > 255)) {
          return yield* Script.invalid(`hosts[${i}]`, "an IPv4 loopback address 127.x.y.z", address)
        }
        if (addresses.includes(address as string)) {
          return yield* Script.invalid(`hosts[${i}]`, "an address not listed before", address)
        }
        addresses.push(address as string)
      }
    }
    const port = yield* Effect.fromResult(
      InvalidOption.int(Script.MODULE, "port", options.port ?? 0, { min: 0, max: 65535 })
    )
    const seedOption = yield* Effect.fromResult(
      InvalidOption.check(
        Script.MODULE,
        "seed",
        options.seed ?? 1,
        (u): u is number => typeof u === "number" && Number.isFinite(u),
        "a finite number"
      )
    )
    const seed = Math.trunc(seedOption) | 0
    const shutdownGrace = options.shutdownGrace === undefined ? 0 : Duration.toMillis(
      yield* Effect.fromResult(
        InvalidOption.duration(Script.MODULE, "shutdownGrace", options.shutdownGrace, { finite: true })
      )
    )
    const maxRecorded = yield* Effect.fromResult(
      InvalidOption.int(Script.MODULE, "maxRecorded", options.maxRecorded ?? Number.POSITIVE_INFINITY, {
        min: 0,
        orInfinity: true
      })
    )
    const table = yield* Script.routeTable(options.routes, options.defaultRoute, seed)
    return { addresses, port, seed, table, shutdownGrace, maxRecorded }
  })

// ---------------------------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------------------------

interface Host {
  readonly index: number
  readonly address: string
  readonly node: Http.Server
  readonly sockets: Set<Net.Socket>
  readonly connectionIds: WeakMap<Net.Socket, number>
  authority: string
  nextConnection: number
  closed: boolean
  count: number
  inFlight: number
  peak: number
  connections: number
}

type MutableRecord = { -readonly [K in keyof Recorded]: Recorded[K] }

interface Waiter {
  readonly ready: () => boolean
  readonly wake: () => void
}

class State {
  readonly config: Config
  readonly hosts: Array<Host> = []
  records: Array<MutableRecord> = []
  nextIndex = 0
  total = 0
  inFlight = 0
  peak = 0
  byOutcome = new Map<string, number>()
  byRoute = new Map<string, number>()
  waiters: Array<Waiter> = []

  constructor(config: Config) {
    this.config = config
  }

  notify(): void {
    if (this.waiters.length === 0) return
    const still: Array<Waiter> = []
    const ready: Array<Waiter> = []
    for (const w of this.waiters) (w.ready() ? ready : still).push(w)
    this.waiters = still
    for (const w of ready) w.wake()
  }

  awaitUntil(ready: () => boolean): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (ready()) return Effect.void
      return Effect.callback<void>((resume) => {
        const waiter: Waiter = { ready, wake: () => resume(Effect.void) }
        this.waiters.push(waiter)
        return Effect.sync(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter)
        })
      })
    })
  }

  record(record: MutableRecord): void {
    const max = this.config.maxRecorded
    if (max === 0) return
    this.records.push(record)
    // amortized O(1): trim in batches once the list holds twice the cap
    if (this.records.length >= 2 * max) this.records = this.records.slice(this.records.length - max)
  }

  reset(): void {
    this.records = []
    this.nextIndex = 0
    this.total = 0
    this.peak = this.inFlight
    this.byOutcome = new Map()
    this.byRoute = new Map()
    for (const host of this.hosts) {
      host.count = 0
      host.peak = host.inFlight
      host.connections = 0
    }
    for (const route of this.config.table.all) Script.rewind(route, this.config.seed)
    this.notify()
  }

  stats(): Stats {
    const byHost: Record<string, HostStats> = {}
    for (const host of this.hosts) {
      byHost[host.authority] = {
        count: host.count,
        inFlight: host.inFlight,
        peakConcurrency: host.peak,
        connections: host.connections,
        openConnections: host.sockets.size
      }
    }
    return {
      total: this.total,
      inFlight: this.inFlight,
      peakConcurrency: this.peak,
      byHost,
      byOutcome: Object.fromEntries(this.byOutcome),
      byRoute: Object.fromEntries(this.byRoute)
    }
  }
}

const increment = (map: Map<string, number>, key: string): void => {
  map.set(key, (map.get(key) ?? 0) + 1)
}

const outcomeOf = (action: Script.Action): string => {
  switch (action._tag) {
    case "Respond":
      return String(action.status)
    case "NotFound":
      return "404"
    default:
      return action._tag.toLowerCase()
  }
}

const statusOf = (action: Script.Action): number | undefined => {
  switch (action._tag) {
    case "Reset":
      return action.afterBytes === undefined ? undefined : 200
    case "Hang":
      return action.afterHeaders ? action.status : undefined
    case "NotFound":
      return 404
    default:
      return action.status
  }
}

const headersOf = (request: Http.IncomingMessage): Record<string, string> => {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value
  }
  return headers
}

const splitUrl = (url: string): { readonly path: string; readonly query: Record<string, string> } => {
  const q = url.indexOf("?")
  if (q < 0) return { path: url, query: {} }
  return { path: url.slice(0, q), query: Object.fromEntries(new URLSearchParams(url.slice(q + 1))) }
}

// ---------------------------------------------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------------------------------------------

const patternChunk = (bytes: number): Uint8Array => {
  const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz\n"
  const chunk = new Uint8Array(bytes)
  for (let i = 0; i < bytes; i++) chunk[i] = alphabet.charCodeAt(i % alphabet.length)
  return chunk
}

/** Generated bytes, one chunk per pull (so the writer never concatenates), with backpressure from the socket. */
const largeBody = (bytes: number, chunkBytes: number): Stream.Stream<Uint8Array> => {
  if (bytes === 0) return Stream.empty
  const chunk = patternChunk(Math.min(chunkBytes, bytes))
  return Stream.unfold(0, (sent) => {
    if (sent >= bytes) return Effect.succeed(undefined)
    const size = Math.min(chunk.length, bytes - sent)
    return Effect.succeed([size === chunk.length ? chunk : chunk.subarray(0, size), sent + size] as const)
  })
}

const trickleBody = (chunks: number, delay: number, chunkBytes: number): Stream.Stream<Uint8Array> => {
  const sleep = liveClock.sleep(Duration.millis(delay))
  const chunk = (i: number) => new Uint8Array(chunkBytes).fill(48 + (i % 10))
  return Stream.unfold(0, (i) => {
    if (i >= chunks) return Effect.succeed(undefined)
    const next = [chunk(i), i + 1] as const
    return i === 0 ? Effect.succeed(next) : Effect.as(sleep, next)
  })
}

const retryAfterValue = (seconds: number, format: "seconds" | "http-date"): string => {
  if (format === "seconds") return String(seconds)
  // rounded up to a whole second: the date form has one-second resolution and must not promise less than asked
  const at = Math.ceil((liveClock.currentTimeMillisUnsafe() + seconds * 1000) / 1000) * 1000
  return new Date(at).toUTCString()
}

/** Counts and hashes chunks as they pass, holding none of them. */
class Digest {
  readonly hash = Crypto.createHash("sha256")
  bytes = 0
  update(chunk: Uint8Array): void {
    this.bytes += chunk.length
    this.hash.update(chunk)
  }
}

/** Reads the body once, digesting it and, for a multipart body, each part, and reports what arrived. */
const sinkReport = (
  request: HttpServerRequest.HttpServerRequest,
  record: MutableRecord
): Effect.Effect<SinkReport, Multipart.MultipartError> =>
  Effect.gen(function*() {
    const raw = new Digest()
    const body = Stream.tap(
      Stream.mapError(request.stream, (cause) => Multipart.MultipartError.fromReason("InternalError", cause)),
      (chunk) => Effect.sync(() => raw.update(chunk))
    )
    const contentType = record.headers["content-type"] ?? ""
    let parts: Array<SinkPart> | null = null
    if (/^multipart\/form-data\s*;/i.test(contentType)) {
      const received: Array<SinkPart> = []
      parts = received
      yield* Stream.pipeThroughChannel(body, Multipart.makeChannel(record.headers)).pipe(
        Stream.runForEach((part) => {
          if (part._tag === "Field") {
            const digest = new Digest()
            digest.update(new TextEncoder().encode(part.value))
            received.push({
              name: part.key,
              filename: null,
              contentType: part.contentType,
              bytes: digest.bytes,
              sha256: digest.hash.digest("hex"),
              value: part.value
            })
            return Effect.void
          }
          if (part._tag !== "File") return Effect.void
          const digest = new Digest()
          return Effect.map(
            Stream.runForEach(part.content, (chunk) => Effect.sync(() => digest.update(chunk))),
            () => {
              received.push({
                name: part.key,
                filename: part.name,
                contentType: part.contentType,
                bytes: digest.bytes,
                sha256: digest.hash.digest("hex"),
                value: null
              })
            }
          )
        })
      )
    } else {
      yield* Stream.runDrain(body)
    }
    return {
      method: record.method,
      path: record.path,
      headers: record.headers,
      bytes: raw.bytes,
      sha256: raw.hash.digest("hex"),
      parts
    }
  })

// ---------------------------------------------------------------------------------------------------------------
// Handler
// ---------------------------------------------------------------------------------------------------------------

const handler = (
  state: State,
  host: Host
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    const nodeRequest = NodeHttpServerRequest.toIncomingMessage(request) as Http.IncomingMessage
    const nodeResponse = NodeHttpServerRequest.toServerResponse(request) as Http.ServerResponse
    const { path, query } = splitUrl(nodeRequest.url ?? "/")
    const route = Script.match(state.config.table, path)
    const decision = Script.decide(route)
    const record: MutableRecord = {
      index: state.nextIndex++,
      method: request.method,
      url: nodeRequest.url ?? "/",
      path,
      query,
      headers: headersOf(nodeRequest),
      arrivedAt: liveClock.currentTimeMillisUnsafe(),
      endedAt: undefined,
      host: host.authority,
      hostIndex: host.index,
      connection: host.connectionIds.get(nodeRequest.socket) ?? 0,
      route: route.route.key,
      latency: decision.latency,
      outcome: outcomeOf(decision.action),
      status: statusOf(decision.action),
      retryAfter: undefined,
      state: "in-flight"
    }
    state.record(record)
    state.total++
    state.inFlight++
    if (state.inFlight > state.peak) state.peak = state.inFlight
    host.count++
    host.inFlight++
    if (host.inFlight > host.peak) host.peak = host.inFlight
    increment(state.byOutcome, record.outcome)
    increment(state.byRoute, record.route)
    const slot: Script.Slot | undefined = route.route.concurrency === undefined
      ? undefined
      : { resume: undefined, held: false, gone: false }
    // `close` follows `finish` on a completed response and comes alone when the connection goes first
    nodeResponse.once("close", () => {
      if (slot !== undefined) Script.leave(route, slot)
      record.state = nodeResponse.writableFinished ? "completed" : "aborted"
      record.endedAt = liveClock.currentTimeMillisUnsafe()
      host.inFlight--
      state.inFlight--
      state.notify()
    })
    state.notify()
    const act = reply(decision.action, request, nodeRequest, nodeResponse, host, record)
    const served = decision.latency > 0
      ? Effect.andThen(liveClock.sleep(Duration.millis(decision.latency)), act)
      : act
    // a route with `concurrency` serves that many at once: the latency (service time) starts with the slot
    return slot === undefined ? served : Effect.andThen(Script.enter(route, slot), served)
  })

const reply = (
  action: Script.Action,
  request: HttpServerRequest.HttpServerRequest,
  nodeRequest: Http.IncomingMessage,
  nodeResponse: Http.ServerResponse,
  host: Host,
  record: MutableRecord
): Effect.Effect<HttpServerResponse.HttpServerResponse> => {
  switch (action._tag) {
    case "Respond": {
      let headers = action.headers
      if (action.retryAfter !== undefined) {
        record.retryAfter = retryAfterValue(action.retryAfter, action.retryAfterFormat)
        headers = { ...headers, "retry-after": record.retryAfter }
      }
      return Effect.succeed(
        HttpServerResponse.text(action.body ?? Http.STATUS_CODES[action.status] ?? "", {
          status: action.status,
          headers
        })
      )
    }
    case "NotFound":
      return Effect.succeed(HttpServerResponse.text("Not Found", { status: 404 }))
    case "Echo":
      return Effect.map(
        Effect.orElseSucceed(request.text, () => ""),
        (body) =>
          HttpServerResponse.jsonUnsafe({
            method: record.method,
            url: record.url,
            path: record.path,
            query: record.query,
            headers: record.headers,
            body,
            host: host.authority
          }, { status: action.status })
      )
    case "Sink":
      return sinkReport(request, record).pipe(
        Effect.map((report) => HttpServerResponse.jsonUnsafe(report, { status: action.status })),
        Effect.catch((error) => Effect.succeed(HttpServerResponse.text(error.message, { status: 400 })))
      )
    case "Reset":
      return Effect.andThen(
        Effect.sync(() => {
          const socket = nodeRequest.socket
          if (socket.destroyed) return
          if (action.afterBytes === undefined) {
            socket.resetAndDestroy()
            return
          }
          nodeResponse.writeHead(200, {
            "content-type": "application/octet-stream",
            "content-length": String(2 * action.afterBytes + 1)
          })
          if (action.afterBytes > 0) nodeResponse.write(patternChunk(action.afterBytes))
          else nodeResponse.flushHeaders()
          // FIN after what was written, so the client gets exactly `afterBytes` and then a closed connection
          socket.destroySoon()
        }),
        // the connection's close interrupts this fiber
        Effect.never
      )
    case "Hang":
      return action.afterHeaders
        ? Effect.andThen(
          Effect.sync(() => {
            if (nodeResponse.destroyed) return
            nodeResponse.writeHead(action.status, { "content-type": "text/plain" })
            nodeResponse.flushHeaders()
          }),
          Effect.never
        )
        : Effect.never
    case "Trickle":
      return Effect.succeed(
        HttpServerResponse.stream(trickleBody(action.chunks, action.delay, action.chunkBytes), {
          status: action.status,
          contentType: "text/plain",
          contentLength: action.chunks * action.chunkBytes
        })
      )
    case "Large":
      return Effect.succeed(
        HttpServerResponse.stream(
          largeBody(action.bytes, action.chunkBytes),
          action.chunked
            ? { status: action.status, contentType: "application/octet-stream" }
            : { status: action.status, contentType: "application/octet-stream", contentLength: action.bytes }
        )
      )
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------------------------------------------

const makeHost = (index: number, address: string): Host => {
  const node = Http.createServer()
  const host: Host = {
    index,
    address,
    node,
    sockets: new Set(),
    connectionIds: new WeakMap(),
    authority: address,
    nextConnection: 0,
    closed: false,
    count: 0,
    inFlight: 0,
    peak: 0,
    connections: 0
  }
  node.on("connection", (socket: Net.Socket) => {
    host.connections++
    host.connectionIds.set(socket, ++host.nextConnection)
    host.sockets.add(socket)
    socket.once("close", () => host.sockets.delete(socket))
  })
  node.once("close", () => {
    host.closed = true
  })
  return host
}

const listen = (
  state: State,
  host: Host,
  port: number,
  scope: Scope.Scope
): Effect.Effect<number, ListenError> =>
  Effect.gen(function*() {
    const server = yield* NodeHttpServer.make(() => host.node, { host: host.address, port }).pipe(
      Scope.provide(scope),
      Effect.mapError((error) => new ListenError({ address: host.address, port, cause: error.cause }))
    )
    const bound = (host.node.address() as Net.AddressInfo).port
    host.authority = `${host.address}:${bound}`
    // raw handlers run uninterruptibly (HttpRouter makes routes interruptible itself); a client that goes away
    // or a server stop must be able to interrupt a hanging reply
    yield* server.serve(Effect.interruptible(handler(state, host))).pipe(
      Scope.provide(scope),
      Effect.provideService(Clock.Clock, liveClock)
    )
    return bound
  })

/** Stop accepting, give in-flight requests the grace, destroy every remaining connection, wait for the closes. */
const stop = (state: State): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (const host of state.hosts) {
      if (host.node.listening) host.node.close()
      host.node.closeIdleConnections()
    }
    if (state.config.shutdownGrace > 0 && state.inFlight > 0) {
      yield* state.awaitUntil(() => state.inFlight === 0).pipe(
        Effect.timeoutOption(Duration.millis(state.config.shutdownGrace)),
        Effect.provideService(Clock.Clock, liveClock)
      )
    }
    for (const host of state.hosts) {
      for (const socket of host.sockets) socket.destroy()
    }
    yield* Effect.forEach(state.hosts, (host) =>
      host.closed ? Effect.void : Effect.callback<void>((resume) => {
        if (host.closed) return resume(Effect.void)
        host.node.once("close", () => resume(Effect.void))
      }), { discard: true })
    yield* handlesReleased
  })

/**
 * A server with no connections left emits `close` at once, but libuv releases its listening handle only in the close
 * phase of the event loop: let one full turn pass so that nothing of the server is left when the scope's close
 * returns (`process.getActiveResourcesInfo()` is back to what it was).
 */
const handlesReleased: Effect.Effect<void> = Effect.callback<void>((resume) => {
  setImmediate(() => setImmediate(() => resume(Effect.void)))
})

const start = (state: State, scope: Scope.Scope): Effect.Effect<FaultServer, ListenError> =>
  Effect.gen(function*() {
    const { addresses } = state.config
    state.hosts.length = 0
    for (let i = 0; i < addresses.length; i++) state.hosts.push(makeHost(i, addresses[i]!))
    let port = state.config.port
    for (const host of state.hosts) {
      // the first host may pick a free port; the others use the same one
      port = yield* listen(state, host, port, scope)
    }
    // runs before the serve and server finalizers (the scope is sequential): they then find nothing open
    yield* Scope.addFinalizer(scope, stop(state))
    const urls = state.hosts.map((host) => `http://${host.authority}`)
    const server: FaultServer = {
      urls,
      hosts: state.hosts.map((host) => host.authority),
      port,
      url: (path, hostIndex = 0) => {
        const base = urls[hostIndex]
        if (base === undefined) throw new RangeError(`FaultServer.url: no host ${hostIndex} (${urls.length} hosts)`)
        return `${base}${path.startsWith("/") ? "" : "/"}${path}`
      },
      requests: Effect.sync((): ReadonlyArray<Recorded> => {
        const max = state.config.maxRecorded
        const list = state.records.length > max ? state.records.slice(state.records.length - max) : state.records
        return list.map((r) => ({ ...r }))
      }),
      stats: Effect.sync(() => state.stats()),
      reset: Effect.sync(() => state.reset()),
      awaitRequests: (n) => state.awaitUntil(() => state.total >= n),
      awaitIdle: state.awaitUntil(() => state.inFlight === 0)
    }
    return server
  })

const addressInUse = (exit: Exit.Exit<unknown, unknown>): boolean =>
  Exit.isFailure(exit) &&
  exit.cause.reasons.some((reason) =>
    reason._tag === "Fail" && reason.error instanceof ListenError &&
    (reason.error.cause as { readonly code?: unknown } | undefined)?.code === "EADDRINUSE"
  )

/** @internal */
export const make = (
  options: Options = {}
): Effect.Effect<FaultServer, InvalidOptionError | ListenError, Scope.Scope> =>
  Effect.gen(function*() {
    const state = new State(yield* config(options))
    const parent = yield* Effect.scope
    // with port 0 the first host gets a free port that a later address may find taken: try a few ports
    for (let attempt = 1;; attempt++) {
      const scope = yield* Scope.fork(parent, "sequential")
      const exit = yield* Effect.exit(start(state, scope))
      if (Exit.isSuccess(exit)) return exit.value
      yield* Scope.close(scope, exit)
      yield* handlesReleased
      if (state.config.port !== 0 || attempt >= 5 || !addressInUse(exit)) return yield* Effect.failCause(exit.cause)
    }
  })
