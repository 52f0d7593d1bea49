/// <reference types="node" />
/**
 * The process half of RedisServer: finding the binary, a free port, spawning and reaping `redis-server`, signals,
 * and a minimal RESP client (one command per connection) for readiness, `FLUSHALL` and `command`.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import type { Options, RedisServer, Reply } from "../RedisServer.ts"
import { RedisServerError } from "../RedisServer.ts"

/** The server runs in real time, also when made inside `it.effect` (where `TestClock` would never move). */
const liveClock: Clock.Clock = Clock.Clock.defaultValue()
const liveSleep = (millis: number) => liveClock.sleep(Duration.millis(millis))

const ENV = "ASYNC_OPS_REDIS_SERVER"
const INSTALL = "apt-get install redis-server"

export const binaryPath = (): string | undefined => {
  const fromEnv = process.env[ENV]
  if (fromEnv !== undefined && fromEnv !== "") return Fs.existsSync(fromEnv) ? fromEnv : undefined
  for (const dir of (process.env["PATH"] ?? "").split(Path.delimiter)) {
    if (dir === "") continue
    const candidate = Path.join(dir, "redis-server")
    try {
      Fs.accessSync(candidate, Fs.constants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  return undefined
}

let warned = false

export const available = (): boolean => {
  if (binaryPath() !== undefined) return true
  const line = `no redis-server found (PATH or $${ENV}): Redis suites skipped; install it with \`${INSTALL}\``
  if (process.env["CI"] === "true") throw new Error(`${line} (CI=true: a missing redis-server fails the run)`)
  if (!warned) {
    warned = true
    process.stderr.write(`${line}\n`)
  }
  return false
}

// ---------------------------------------------------------------------------------------------------------------
// RESP: one command per connection
// ---------------------------------------------------------------------------------------------------------------

const encode = (args: ReadonlyArray<string>): string =>
  `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")

class RespErrorReply {
  readonly text: string
  constructor(text: string) {
    this.text = text
  }
}

/** Parses one reply from `buf` at `at`; returns undefined when more bytes are needed. */
const parse = (buf: Buffer, at: number): { value: Reply | RespErrorReply; next: number } | undefined => {
  const eol = buf.indexOf("\r\n", at)
  if (eol < 0) return undefined
  const type = String.fromCharCode(buf[at]!)
  const line = buf.toString("utf8", at + 1, eol)
  switch (type) {
    case "+":
      return { value: line, next: eol + 2 }
    case "-":
      return { value: new RespErrorReply(line), next: eol + 2 }
    case ":":
      return { value: Number(line), next: eol + 2 }
    case "$": {
      const n = Number(line)
      if (n < 0) return { value: null, next: eol + 2 }
      if (buf.length < eol + 2 + n + 2) return undefined
      return { value: buf.toString("utf8", eol + 2, eol + 2 + n), next: eol + 2 + n + 2 }
    }
    case "*": {
      const n = Number(line)
      if (n < 0) return { value: null, next: eol + 2 }
      const items: Array<Reply> = []
      let next = eol + 2
      for (let i = 0; i < n; i++) {
        const item = parse(buf, next)
        if (item === undefined) return undefined
        if (item.value instanceof RespErrorReply) return { value: item.value, next: item.next }
        items.push(item.value)
        next = item.next
      }
      return { value: items, next }
    }
    default:
      return { value: new RespErrorReply(`unexpected reply type ${JSON.stringify(type)}`), next: buf.length }
  }
}

const command = (port: number, args: ReadonlyArray<string>): Effect.Effect<Reply, RedisServerError> =>
  Effect.callback<Reply, RedisServerError>((resume) => {
    let buf = Buffer.alloc(0)
    let done = false
    const socket = Net.connect({ host: "127.0.0.1", port })
    const finish = (effect: Effect.Effect<Reply, RedisServerError>) => {
      if (done) return
      done = true
      socket.destroy()
      resume(effect)
    }
    socket.on("connect", () => socket.write(encode(args)))
    socket.on("data", (chunk) => {
      buf = Buffer.concat([buf, chunk])
      const reply = parse(buf, 0)
      if (reply === undefined) return
      finish(
        reply.value instanceof RespErrorReply
          ? Effect.fail(new RedisServerError({ operation: "command", detail: `${args[0]}: ${reply.value.text}` }))
          : Effect.succeed(reply.value)
      )
    })
    socket.on(
      "error",
      (cause) =>
        finish(
          Effect.fail(new RedisServerError({ operation: "command", detail: `${args[0]}: ${cause.message}`, cause }))
        )
    )
    socket.on(
      "close",
      () => finish(Effect.fail(new RedisServerError({ operation: "command", detail: `${args[0]}: connection closed` })))
    )
    return Effect.sync(() => {
      done = true
      socket.destroy()
    })
  })

// ---------------------------------------------------------------------------------------------------------------
// Process
// ---------------------------------------------------------------------------------------------------------------

const freePort: Effect.Effect<number, RedisServerError> = Effect.callback((resume) => {
  const server = Net.createServer()
  server.once(
    "error",
    (cause) => resume(Effect.fail(new RedisServerError({ operation: "start", detail: "no free port", cause })))
  )
  server.listen(0, "127.0.0.1", () => {
    const address = server.address() as Net.AddressInfo
    server.close(() => resume(Effect.succeed(address.port)))
  })
})

interface Running {
  readonly child: ChildProcess.ChildProcess
  readonly exited: Promise<void>
  output: string
}

export const make = (options: Options = {}): Effect.Effect<RedisServer, RedisServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const binary = options.binary ?? binaryPath()
    if (binary === undefined) {
      return yield* new RedisServerError({
        operation: "start",
        detail: `no redis-server found (PATH or $${ENV}); install it with \`${INSTALL}\``
      })
    }
    const startTimeout = options.startTimeout ?? 10_000
    const dir = yield* Effect.tryPromise({
      try: () => Fs.promises.mkdtemp(Path.join(Os.tmpdir(), "async-ops-redis-")),
      catch: (cause) => new RedisServerError({ operation: "start", detail: `cannot make a temp dir: ${String(cause)}` })
    })
    const scope = yield* Effect.scope
    let current: Running | undefined
    let paused = false

    const spawnOn = (port: number): Running => {
      const child = ChildProcess.spawn(binary, [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "no",
        "--daemonize",
        "no",
        ...(options.args ?? [])
      ], { stdio: ["ignore", "pipe", "pipe"] })
      const running: Running = {
        child,
        output: "",
        exited: new Promise<void>((resolve) => {
          child.once("exit", () => resolve())
          child.once("error", () => resolve())
        })
      }
      const keep = (chunk: Buffer) => {
        running.output = (running.output + chunk.toString("utf8")).slice(-4000)
      }
      child.stdout?.on("data", keep)
      child.stderr?.on("data", keep)
      return running
    }

    const awaitExit = (running: Running) => Effect.promise(() => running.exited)

    const signal = (sig: NodeJS.Signals) =>
      Effect.gen(function*() {
        const running = current
        if (running === undefined) return
        if (paused) {
          running.child.kill("SIGCONT")
          paused = false
        }
        running.child.kill(sig)
        yield* awaitExit(running)
        if (current === running) current = undefined
      })

    /** Spawns on `port` and polls PING until it answers; fails if the process exits or the time runs out. */
    const startOn = (port: number): Effect.Effect<void, RedisServerError> =>
      Effect.gen(function*() {
        const running = spawnOn(port)
        current = running
        const deadline = liveClock.currentTimeMillisUnsafe() + startTimeout
        while (true) {
          if (running.child.exitCode !== null || running.child.signalCode !== null) {
            if (current === running) current = undefined
            return yield* new RedisServerError({
              operation: "start",
              detail: `redis-server exited (${running.child.exitCode ?? running.child.signalCode}): ${
                running.output.trim().split("\n").slice(-3).join(" | ")
              }`
            })
          }
          const pong = yield* Effect.result(command(port, ["PING"]))
          if (pong._tag === "Success") return
          if (liveClock.currentTimeMillisUnsafe() > deadline) {
            yield* signal("SIGKILL")
            return yield* new RedisServerError({
              operation: "start",
              detail: `redis-server did not answer PING on port ${port} within ${startTimeout} ms`
            })
          }
          yield* liveSleep(20)
        }
      })

    yield* Scope.addFinalizer(
      scope,
      Effect.gen(function*() {
        yield* signal("SIGKILL")
        yield* Effect.promise(() => Fs.promises.rm(dir, { recursive: true, force: true }).catch(() => undefined))
      })
    )

    // A free port can be taken between the probe and redis-server's bind: try a few.
    let port = 0
    let lastError: RedisServerError | undefined
    for (let attempt = 0; attempt < 5; attempt++) {
      const candidate = yield* freePort
      const started = yield* Effect.result(startOn(candidate))
      if (started._tag === "Success") {
        port = candidate
        lastError = undefined
        break
      }
      lastError = started.failure
    }
    if (lastError !== undefined) return yield* lastError

    const server: RedisServer = {
      host: "127.0.0.1",
      port,
      url: `redis://127.0.0.1:${port}`,
      dir,
      pid: Effect.sync(() => current?.child.pid),
      stop: signal("SIGTERM"),
      kill: signal("SIGKILL"),
      restart: Effect.andThen(signal("SIGTERM"), Effect.suspend(() => startOn(port))),
      pause: Effect.sync(() => {
        if (current !== undefined && !paused) {
          current.child.kill("SIGSTOP")
          paused = true
        }
      }),
      resume: Effect.sync(() => {
        if (current !== undefined && paused) {
          current.child.kill("SIGCONT")
          paused = false
        }
      }),
      flush: Effect.asVoid(command(port, ["FLUSHALL"])),
      command: (...args) => command(port, args)
    }
    return server
  })
