import { defineConfig } from "vitest/config"

// One project per package, plus the example catalogue and the cross-package tests in test/.
export default defineConfig({
  test: {
    // Virtual-time tests finish in milliseconds whatever the load; this ceiling is for the real-socket and
    // 100,000-fiber tests, which must pass on a busy 2-core machine (process tests set their own, longer timeouts).
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      { test: { name: "core", root: "packages/core", include: ["test/**/*.test.ts"] } },
      { test: { name: "testing", root: "packages/testing", include: ["test/**/*.test.ts"] } },
      { test: { name: "http", root: "packages/http", include: ["test/**/*.test.ts"] } },
      { test: { name: "service", root: "packages/service", include: ["test/**/*.test.ts"] } },
      { test: { name: "redis", root: "packages/redis", include: ["test/**/*.test.ts"] } },
      { test: { name: "cli", root: "packages/cli", include: ["test/**/*.test.ts"] } },
      { test: { name: "examples", root: "examples", include: ["test/**/*.test.ts"] } },
      { test: { name: "test", root: "test", include: ["**/*.test.ts"], exclude: ["**/node_modules/**"] } },
      // The bench harness's smoke run (every workload at a tiny size); the full benchmark is `pnpm bench`.
      { test: { name: "bench", root: "bench", include: ["test/**/*.test.ts"] } }
    ]
  }
})
