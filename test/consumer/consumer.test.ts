/**
 * The consumer test: build every package, `pnpm pack` it, install the tarballs into a fresh project outside the
 * workspace (with only effect, @effect/platform-node, typescript and @types/node from the registry), type-check a
 * program that imports every public module by its published path under `moduleResolution` NodeNext and bundler,
 * run it on Node 24, and check that `internal/` stays private and the tarballs hold only what a user needs.
 * This is what catches a missing file, a wrong `exports` entry or a leaked `src` path before a user does.
 */
import { describe, expect, it } from "@effect/vitest"
import { spawnSync, type SpawnSyncOptions } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..")
const packages = readdirSync(join(root, "packages")).toSorted()
const rootManifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))
const versionOf = (name: string): string => rootManifest.devDependencies[name]

const run = (command: string, args: Array<string>, options: SpawnSyncOptions = {}) => {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: 240_000, ...options })
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed (${result.status ?? result.signal}):\n${output}`)
  }
  return output
}

const publicModules = (pkg: string): Array<string> =>
  readdirSync(join(root, "packages", pkg, "src"))
    // bin.ts is a package's executable entry (the `async-ops` command), not a module of its API
    .filter((f) => f.endsWith(".ts") && f !== "index.ts" && f !== "bin.ts")
    .map((f) => f.slice(0, -3))
    .toSorted()

describe("consumer project outside the workspace", () => {
  const work = mkdtempSync(join(tmpdir(), "async-ops-consumer-"))
  const tarballs = new Map<string, string>()

  it("builds and packs every package with only what a user needs", () => {
    run(process.execPath, [
      join(root, "node_modules", "typescript", "bin", "tsc"),
      "-b",
      ...packages.map((p) => join(root, "packages", p, "tsconfig.build.json"))
    ], { cwd: root })
    for (const pkg of packages) {
      const out = run("npx", ["-y", "pnpm@10", "pack", "--pack-destination", work], {
        cwd: join(root, "packages", pkg)
      })
      const file = readdirSync(work).find((f) => f.startsWith(`async-ops-${pkg}-`) && f.endsWith(".tgz"))
      expect(file, out).toBeDefined()
      tarballs.set(pkg, join(work, file!))
      const entries = run("tar", ["-tzf", join(work, file!)]).trim().split("\n")
      const unexpected = entries.filter((e) =>
        !/^package\/(package\.json|README\.md|LICENSE|dist\/.+\.(js|d\.ts|js\.map|d\.ts\.map))$/.test(e)
      )
      expect(unexpected).toEqual([])
      for (const m of publicModules(pkg)) {
        expect(entries).toContain(`package/dist/${m}.js`)
        expect(entries).toContain(`package/dist/${m}.d.ts`)
      }
      const manifest = JSON.parse(run("tar", ["-xzOf", join(work, file!), "package/package.json"]))
      expect(manifest.exports["."]).toEqual({ types: "./dist/index.d.ts", default: "./dist/index.js" })
      expect(manifest.exports["./internal/*"]).toBeNull()
      expect(JSON.stringify(manifest)).not.toContain("workspace:")
      expect(JSON.stringify(manifest.exports)).not.toContain("src/")
      // core has no Node imports and runs on any runtime; the Node-specific packages ask for Node 22.19+.
      expect(manifest.engines?.node).toBe(pkg === "core" ? undefined : ">=22.19")
      expect(manifest.sideEffects).toBe(false)
      expect(manifest.peerDependencies.effect).toBeDefined()
      expect(manifest.dependencies?.effect).toBeUndefined()
      for (const target of Object.values<string>(manifest.bin ?? {})) {
        expect(entries).toContain(`package/${target.replace(/^\.\//, "")}`)
      }
    }
  }, 300_000)

  it("installs the tarballs, type-checks every public import with NodeNext and bundler, and runs on Node 24", () => {
    const app = join(work, "app")
    mkdirSync(app, { recursive: true })
    const files = Object.fromEntries(Array.from(tarballs, ([pkg, path]) => [`@async-ops/${pkg}`, `file:${path}`]))
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify(
        {
          name: "consumer",
          private: true,
          type: "module",
          dependencies: {
            ...files,
            effect: versionOf("effect"),
            "@effect/platform-node": versionOf("@effect/platform-node") ?? versionOf("effect"),
            typescript: versionOf("typescript"),
            "@types/node": versionOf("@types/node")
          },
          pnpm: { overrides: files }
        },
        null,
        2
      )
    )
    const imports = packages.flatMap((pkg) => [
      `import * as ${pkg}Barrel from "@async-ops/${pkg}"`,
      ...publicModules(pkg).map((m) => `import * as ${pkg}_${m} from "@async-ops/${pkg}/${m}"`)
    ])
    const checks = packages.flatMap((pkg) =>
      publicModules(pkg).map((m) =>
        `if (${pkg}Barrel.${m} === undefined || Object.keys(${pkg}_${m}).length === 0) throw new Error("missing ${pkg}/${m}")`
      )
    )
    writeFileSync(
      join(app, "main.ts"),
      [
        ...imports,
        `import { Effect } from "effect"`,
        ...checks,
        `const program = coreBarrel.TaskGroup.scoped((group) =>`,
        `  Effect.gen(function*() {`,
        `    const a = yield* group.spawn(Effect.succeed(20))`,
        `    const b = yield* group.spawn(Effect.succeed(22))`,
        `    return (yield* a.join) + (yield* b.join)`,
        `  }), { concurrency: 1 })`,
        `const answer: number = await Effect.runPromise(program)`,
        `console.log("consumer ok", answer)`
      ].join("\n") + "\n"
    )
    writeFileSync(join(app, "internal.ts"), `import * as I from "@async-ops/core/internal/taskGroup"\nconsole.log(I)\n`)
    const tsconfig = (moduleResolution: string, module: string, files: Array<string>) =>
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module,
          moduleResolution,
          strict: true,
          exactOptionalPropertyTypes: true,
          noEmit: true,
          // our .d.ts files are checked too; effect 4.1's own crypto .d.ts files name WebCrypto globals
          // (CryptoKey, JsonWebKey) that only the DOM lib declares, so a consumer without skipLibCheck needs it
          skipLibCheck: false,
          types: ["node"],
          lib: ["ES2023", "DOM"]
        },
        files
      })
    writeFileSync(join(app, "tsconfig.nodenext.json"), tsconfig("NodeNext", "NodeNext", ["main.ts"]))
    writeFileSync(join(app, "tsconfig.bundler.json"), tsconfig("bundler", "ESNext", ["main.ts"]))
    writeFileSync(join(app, "tsconfig.internal.json"), tsconfig("NodeNext", "NodeNext", ["internal.ts"]))

    run("npx", ["-y", "pnpm@10", "install", "--ignore-workspace"], { cwd: app })
    const tsc = join(app, "node_modules", "typescript", "bin", "tsc")
    run(process.execPath, [tsc, "-p", "tsconfig.nodenext.json"], { cwd: app })
    run(process.execPath, [tsc, "-p", "tsconfig.bundler.json"], { cwd: app })
    expect(run(process.execPath, ["main.ts"], { cwd: app })).toContain("consumer ok 42")
    // the published `async-ops` command runs from its built file
    const bin = join(app, "node_modules", "@async-ops", "cli", "dist", "bin.js")
    expect(run(process.execPath, [bin, "--version"], { cwd: app }).trim()).toMatch(/^async-ops v\d+\.\d+\.\d+$/)

    const internalTypes = spawnSync(process.execPath, [tsc, "-p", "tsconfig.internal.json"], {
      cwd: app,
      encoding: "utf8"
    })
    expect(internalTypes.status).not.toBe(0)
    expect(internalTypes.stdout).toContain("internal/taskGroup")
    const internalRun = spawnSync(process.execPath, ["internal.ts"], { cwd: app, encoding: "utf8" })
    expect(internalRun.status).not.toBe(0)
    expect(internalRun.stderr).toContain("ERR_PACKAGE_PATH_NOT_EXPORTED")
    rmSync(work, { recursive: true, force: true })
  }, 300_000)
})
