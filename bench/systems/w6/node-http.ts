// W6 server, the reference: a plain node:http server answering `GET /hello` with `ok` (anything else 404), timed by
// the load generator in a process of its own (see ../../http/loadgen.ts).
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { runLoad } from "../../http/process.ts"
import { benchMeasured } from "../../runner.ts"

benchMeasured(async ({ size, params }) => {
  const server = http.createServer((req, res) => {
    if (req.method === "GET" && req.url === "/hello") {
      res.writeHead(200, { "content-type": "text/plain", "content-length": 2 })
      res.end("ok")
    } else {
      res.writeHead(404, { "content-length": 0 })
      res.end()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  try {
    return await runLoad({
      port: (server.address() as AddressInfo).port,
      total: size,
      concurrency: params["concurrency"] ?? 100,
      warmup: Math.ceil((size * (params["warmupPercent"] ?? 0)) / 100)
    })
  } finally {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
})
