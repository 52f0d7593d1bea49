/**
 * W4's target server: a plain `node:http` server on 127.0.0.1 (port 0) in a process of its own, so it never shares
 * the client's event loop. `GET /<i>` answers `200` with the body `<i>` (with `Content-Length`, keep-alive), so the
 * client can check that every answer came back for the right request; anything else is a `404`.
 *
 * It prints one line `{"port": N}` on stdout once listening, and exits when its stdin ends (the harness closes it,
 * or dies) or on SIGTERM.
 */
import * as http from "node:http"

const server = http.createServer((req, res) => {
  const path = req.url ?? ""
  const i = path.length > 1 ? Number(path.slice(1)) : NaN
  if (req.method === "GET" && Number.isInteger(i) && i >= 0) {
    const body = String(i)
    res.writeHead(200, { "content-type": "text/plain", "content-length": body.length })
    res.end(body)
  } else {
    res.writeHead(404, { "content-length": 0 })
    res.end()
  }
})
// Keep idle keep-alive sockets for the whole round (Node's default of 5 s could drop them between two requests of
// a slow client); the harness closes the server when the workload ends.
server.keepAliveTimeout = 60_000
server.headersTimeout = 65_000

const stop = () => {
  server.closeAllConnections()
  server.close(() => process.exit(0))
}
process.on("SIGTERM", stop)
process.stdin.on("end", stop).on("error", stop).resume()

server.listen(0, "127.0.0.1", () => {
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  process.stdout.write(JSON.stringify({ port }) + "\n")
})
