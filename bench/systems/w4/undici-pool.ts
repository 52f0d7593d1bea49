// W4 fetch-all, the reference: a raw undici `Pool` (as many keep-alive connections as the concurrency) with p-limit
// bounding the requests in flight; each body read as text and parsed.
import pLimit from "p-limit"
import { Pool } from "undici"
import { bench, range, sumInOrder } from "../../runner.ts"

bench(async ({ size, params }) => {
  const concurrency = params["concurrency"] ?? 100
  const pool = new Pool(`http://127.0.0.1:${params["port"]}`, { connections: concurrency })
  const limit = pLimit(concurrency)
  try {
    const results = await Promise.all(
      range(size).map((i) =>
        limit(async () => {
          const { statusCode, body } = await pool.request({ path: `/${i}`, method: "GET" })
          const text = await body.text()
          if (statusCode !== 200) throw new Error(`GET /${i}: status ${statusCode}`)
          return Number(text)
        })
      )
    )
    return sumInOrder(results)
  } finally {
    await pool.close()
  }
})
