/**
 * W6's load generator (the role wrk plays elsewhere), in a process of its own: `concurrency` keep-alive TCP
 * connections, each sending `GET /hello` and reading the whole answer before sending the next (no pipelining),
 * until `total` requests were sent. `warmup` requests go first, untimed (the server's JIT warms up on them). Prints
 * `{"ms", "check", "loadCpuMs"}`: the wall time of the timed requests, how many of them answered `200` with the
 * body `ok`, and the CPU time the generator itself used meanwhile (when it nears `ms`, the generator is the
 * bottleneck).
 *
 * It speaks just enough HTTP/1.1 over `node:net` (a status line, `content-length` or chunked bodies): a full client
 * (undici) spends about as much CPU per request as a small Node server, so it capped every server at its own speed
 * (about 40k requests per second here) and hid the cost of what is measured.
 *
 * Usage: `node loadgen.ts '{"port": N, "total": N, "concurrency": N, "warmup": N}'`.
 */
import * as net from "node:net"
import { performance } from "node:perf_hooks"

const { port, total, concurrency, warmup } = JSON.parse(process.argv[2] ?? "{}") as {
  port: number
  total: number
  concurrency: number
  warmup: number
}

const REQUEST = Buffer.from(`GET /hello HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`, "latin1")
const CONTENT_LENGTH = /\r\ncontent-length: *(\d+)/i
const CHUNKED = /\r\ntransfer-encoding: *chunked/i

/** One answer parsed off the front of `buf`: its status, body and length, or `undefined` if incomplete. */
const parse = (buf: string): { status: number; body: string; end: number } | undefined => {
  const headEnd = buf.indexOf("\r\n\r\n")
  if (headEnd < 0) return undefined
  const head = buf.slice(0, headEnd + 2)
  const status = Number(head.slice(9, 12))
  const start = headEnd + 4
  const length = CONTENT_LENGTH.exec(head)
  if (length !== null) {
    const end = start + Number(length[1])
    return buf.length < end ? undefined : { status, body: buf.slice(start, end), end }
  }
  if (!CHUNKED.test(head)) throw new Error(`an answer with neither content-length nor chunked: ${head}`)
  let body = ""
  let at = start
  for (;;) {
    const lineEnd = buf.indexOf("\r\n", at)
    if (lineEnd < 0) return undefined
    const size = parseInt(buf.slice(at, lineEnd), 16)
    const dataEnd = lineEnd + 2 + size
    if (buf.length < dataEnd + 2) return undefined
    if (size === 0) {
      // no trailers expected: the last chunk is "0\r\n\r\n"
      return { status, body, end: dataEnd + 2 }
    }
    body += buf.slice(lineEnd + 2, dataEnd)
    at = dataEnd + 2
  }
}

/** Sends `count` requests over `concurrency` connections; resolves with how many answered `200 ok`. */
const burst = (count: number): Promise<number> =>
  new Promise((resolve, reject) => {
    let sent = 0
    let answered = 0
    let ok = 0
    const sockets: Array<net.Socket> = []
    const finish = () => {
      for (const s of sockets) s.destroy()
      resolve(ok)
    }
    const open = () => {
      const socket = net.connect({ port, host: "127.0.0.1", noDelay: true })
      sockets.push(socket)
      let buf = ""
      socket.on("error", reject)
      socket.on("close", () => {
        if (answered < count) reject(new Error(`the server closed a connection after ${answered} answers`))
      })
      socket.on("data", (chunk: Buffer) => {
        buf += chunk.toString("latin1")
        for (;;) {
          const answer = parse(buf)
          if (answer === undefined) return
          buf = buf.slice(answer.end)
          answered++
          if (answer.status === 200 && answer.body === "ok") ok++
          if (answered === count) return finish()
          if (sent < count) {
            sent++
            socket.write(REQUEST)
          }
        }
      })
      sent++
      socket.write(REQUEST)
    }
    for (let i = 0; i < Math.min(concurrency, count); i++) open()
  })

const main = async () => {
  if (warmup > 0) await burst(warmup)
  const start = performance.now()
  const cpu = process.cpuUsage()
  const check = await burst(total)
  const ms = performance.now() - start
  const used = process.cpuUsage(cpu)
  process.stdout.write(
    JSON.stringify({ ms, check, loadCpuMs: (used.user + used.system) / 1000 }) + "\n",
    () => process.exit(0)
  )
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
