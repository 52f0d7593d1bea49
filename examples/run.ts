/**
 * The example catalogue runner. `pnpm example 01-core/gather` runs one example; `pnpm example` (no argument) runs
 * every example in order and prints each one's output under its name. Each example module exports `program`, an
 * Effect that prints what it shows with `Console.log`; tests run the same `program` under virtual time.
 */
import { Console, Effect } from "effect"
import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = dirname(fileURLToPath(import.meta.url))

export const catalogue = (): Array<string> =>
  readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^\d\d-/.test(d.name))
    .map((d) => d.name)
    .toSorted()
    .flatMap((folder) =>
      readdirSync(join(root, folder))
        .filter((f) => f.endsWith(".ts"))
        .toSorted()
        .map((f) => `${folder}/${f.slice(0, -3)}`)
    )

const runOne = (name: string) =>
  Effect.gen(function*() {
    const mod = yield* Effect.promise(() => import(join(root, `${name}.ts`)) as Promise<{ program?: unknown }>)
    if (!Effect.isEffect(mod.program)) {
      return yield* Effect.die(new Error(`examples/${name}.ts does not export an Effect named program`))
    }
    yield* Console.log(`\n=== ${name}`)
    yield* mod.program as Effect.Effect<void, unknown>
  })

if (import.meta.main) {
  const args = process.argv.slice(2)
  const all = catalogue()
  const unknown = args.filter((a) => !all.includes(a))
  if (unknown.length > 0) {
    console.error(`unknown example(s): ${unknown.join(", ")}\navailable:\n  ${all.join("\n  ")}`)
    process.exit(2)
  }
  const selected = args.length > 0 ? args : all
  Effect.runPromise(Effect.forEach(selected, runOne, { discard: true })).then(
    () => process.exit(0),
    (error) => {
      console.error(error)
      process.exit(1)
    }
  )
}
