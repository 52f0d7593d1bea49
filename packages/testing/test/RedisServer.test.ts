import { RedisServer } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import * as Fs from "node:fs"
import * as Net from "node:net"

/** Whether a TCP connection to the port opens (not whether anything answers). */
const connects = (port: number) =>
  Effect.callback<boolean>((resume) => {
    const socket = Net.connect({ host: "127.0.0.1", port })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(true))
    })
    socket.once("error", () => resume(Effect.succeed(false)))
  })

describe.skipIf(!RedisServer.available())("RedisServer", () => {
  it.live("starts on a loopback port, answers commands, and is gone with its scope", () =>
    Effect.gen(function*() {
      const [port, dir, pid] = yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* RedisServer.make()
        expect(server.url).toBe(`redis://127.0.0.1:${server.port}`)
        expect(yield* server.command("SET", "k", "v")).toBe("OK")
        expect(yield* server.command("GET", "k")).toBe("v")
        expect(yield* server.command("GET", "missing")).toBe(null)
        expect(yield* server.command("RPUSH", "l", "a", "b")).toBe(2)
        expect(yield* server.command("LRANGE", "l", "0", "-1")).toEqual(["a", "b"])
        expect(Fs.existsSync(server.dir)).toBe(true)
        return [server.port, server.dir, yield* server.pid] as const
      }))
      expect(pid).toBeTypeOf("number")
      expect(() => process.kill(pid!, 0)).toThrow()
      expect(Fs.existsSync(dir)).toBe(false)
      expect(yield* connects(port)).toBe(false)
    }), 60_000)

  it.live("an error reply fails typed", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const error = yield* Effect.flip(server.command("NOSUCHCOMMAND"))
      expect(error._tag).toBe("RedisServerError")
      expect(error.detail).toContain("unknown command")
    })), 60_000)

  it.live("flush removes every key", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* RedisServer.make()
      yield* server.command("SET", "a", "1")
      yield* server.flush
      expect(yield* server.command("DBSIZE")).toBe(0)
    })), 60_000)

  it.live(
    "stop refuses connections; restart serves on the same port, empty",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const server = yield* RedisServer.make()
        yield* server.command("SET", "a", "1")
        const before = yield* server.pid
        yield* server.stop
        expect(yield* server.pid).toBe(undefined)
        expect(yield* connects(server.port)).toBe(false)
        expect(Exit.isFailure(yield* Effect.exit(server.command("PING")))).toBe(true)
        yield* server.restart
        const after = yield* server.pid
        expect(after).not.toBe(before)
        expect(yield* server.command("PING")).toBe("PONG")
        expect(yield* server.command("EXISTS", "a")).toBe(0)
      })),
    60_000
  )

  it.live(
    "kill is a crash: the process is gone and restart brings it back",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const server = yield* RedisServer.make()
        const pid = yield* server.pid
        yield* server.kill
        expect(() => process.kill(pid!, 0)).toThrow()
        yield* server.restart
        expect(yield* server.command("PING")).toBe("PONG")
      })),
    60_000
  )

  it.live("pause accepts connections but answers nothing until resume", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* RedisServer.make()
      yield* server.pause
      // The kernel still completes the handshake (the listen backlog); the process never replies.
      expect(yield* connects(server.port)).toBe(true)
      const pending = yield* Effect.forkChild(server.command("PING"), { startImmediately: true })
      const early = yield* server.command("PING").pipe(Effect.timeoutOption("300 millis"))
      expect(early._tag).toBe("None")
      yield* server.resume
      expect(yield* Fiber.join(pending)).toBe("PONG")
    })), 60_000)

  it.live("a scope closing while paused still kills the server", () =>
    Effect.gen(function*() {
      const pid = yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* RedisServer.make()
        yield* server.pause
        return yield* server.pid
      }))
      expect(() => process.kill(pid!, 0)).toThrow()
    }), 60_000)

  it.live("a binary that is not redis-server fails start typed", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(RedisServer.make({ binary: "/bin/false" })))
      expect(error._tag).toBe("RedisServerError")
      expect(error.operation).toBe("start")
    }), 60_000)
})

describe("RedisServer.available", () => {
  it("finds the binary through $ASYNC_OPS_REDIS_SERVER, and the skip rule fails only under CI=true", () => {
    const saved = { bin: process.env["ASYNC_OPS_REDIS_SERVER"], ci: process.env["CI"] }
    try {
      process.env["ASYNC_OPS_REDIS_SERVER"] = "/nonexistent/redis-server"
      expect(RedisServer.binaryPath()).toBe(undefined)
      process.env["CI"] = "false"
      expect(RedisServer.available()).toBe(false)
      process.env["CI"] = "true"
      expect(() => RedisServer.available()).toThrow(/apt-get install redis-server/)
      process.env["ASYNC_OPS_REDIS_SERVER"] = process.execPath
      expect(RedisServer.binaryPath()).toBe(process.execPath)
      expect(RedisServer.available()).toBe(true)
    } finally {
      if (saved.bin === undefined) delete process.env["ASYNC_OPS_REDIS_SERVER"]
      else process.env["ASYNC_OPS_REDIS_SERVER"] = saved.bin
      if (saved.ci === undefined) delete process.env["CI"]
      else process.env["CI"] = saved.ci
    }
  })
})
