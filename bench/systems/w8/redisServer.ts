/**
 * A throwaway `redis-server` for W8 (bench only; tests use `@async-ops/testing`'s `RedisServer`): on a free
 * loopback port, with its own temp dir, no persistence. Found on PATH or through `$ASYNC_OPS_REDIS_SERVER`.
 */
import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** Why W8 rows are skipped on a machine without Redis (one line, naming the install command). */
export const NO_REDIS = "no redis-server on PATH or in $ASYNC_OPS_REDIS_SERVER (apt-get install redis-server)"

const binary = (): string => process.env["ASYNC_OPS_REDIS_SERVER"] || "redis-server"

/** Whether a redis-server can be started here. */
export const redisAvailable = (): boolean => spawnSync(binary(), ["--version"], { stdio: "ignore" }).status === 0

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as Net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

const ping = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = Net.connect({ host: "127.0.0.1", port })
    socket.once("connect", () => socket.write("PING\r\n"))
    socket.once("data", (d) => {
      socket.destroy()
      resolve(d.toString().startsWith("+PONG"))
    })
    socket.once("error", () => resolve(false))
  })

/** Starts a redis-server and waits until it answers PING; `close` kills it and removes its dir. */
export const startRedis = async (): Promise<{ readonly port: number; readonly close: () => Promise<void> }> => {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), "async-ops-bench-redis-"))
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"]
  const proc = spawn(binary(), args, { stdio: "ignore" })
  let up = false
  for (let i = 0; i < 200 && !(up = await ping(port)); i++) await new Promise((r) => setTimeout(r, 25))
  const close = async () => {
    proc.kill("SIGKILL")
    rmSync(dir, { recursive: true, force: true })
  }
  if (!up) {
    await close()
    throw new Error(`redis-server did not answer on port ${port}`)
  }
  return { port, close }
}
