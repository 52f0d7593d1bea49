import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { catalogue } from "../run.ts"

const here = dirname(fileURLToPath(import.meta.url))

describe("example catalogue", () => {
  it("every example has a test of its own", () => {
    const missing = catalogue().filter((name) => !existsSync(join(here, `${name}.test.ts`)))
    expect(missing).toEqual([])
  })

  it("the runner runs an example as a real process and rejects an unknown one", () => {
    const ok = spawnSync(process.execPath, [join(here, "..", "run.ts"), "01-core/context-manager"], {
      encoding: "utf8",
      timeout: 60_000
    })
    expect(ok.status).toBe(0)
    expect(ok.stdout).toContain("=== 01-core/context-manager")
    expect(ok.stdout).toContain("close db (success)")
    const bad = spawnSync(process.execPath, [join(here, "..", "run.ts"), "99-nope/nothing"], { encoding: "utf8" })
    expect(bad.status).toBe(2)
    expect(bad.stderr).toContain("unknown example")
  })
})
