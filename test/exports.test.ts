/**
 * The public surface of every package: each public module is in its barrel, `internal/` cannot be imported from
 * outside the package, and every public export carries JSDoc with `@since`.
 */
import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const packages = readdirSync(join(root, "packages"))

const publicModules = (pkg: string): Array<string> =>
  readdirSync(join(root, "packages", pkg, "src"))
    // bin.ts is a package's executable entry (the `async-ops` command), not a module of its API
    .filter((f) => f.endsWith(".ts") && f !== "index.ts" && f !== "bin.ts")
    .map((f) => f.slice(0, -3))
    .toSorted()

const hasModifier = (node: ts.Node, kind: ts.SyntaxKind): boolean =>
  ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === kind)

/** Names of exported declarations that lack a JSDoc `@since` tag. */
const undocumented = (file: string): Array<string> => {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true)
  const missing: Array<string> = []
  const sinceOf = (node: ts.Node) => ts.getJSDocTags(node).some((t) => t.tagName.text === "since")
  for (const statement of source.statements) {
    if (!hasModifier(statement, ts.SyntaxKind.ExportKeyword)) continue
    if (ts.isVariableStatement(statement)) {
      for (const decl of statement.declarationList.declarations) {
        if (!sinceOf(statement) && !sinceOf(decl)) missing.push(decl.name.getText(source))
      }
    } else if (
      ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement) ||
      ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement)
    ) {
      if (!sinceOf(statement)) missing.push(statement.name?.getText(source) ?? "(anonymous)")
    }
  }
  return missing
}

describe("export surface", () => {
  for (const pkg of packages) {
    it(`@async-ops/${pkg}: every public module is in the barrel, and only those`, () => {
      const barrel = readFileSync(join(root, "packages", pkg, "src", "index.ts"), "utf8")
      const exported = Array.from(barrel.matchAll(/export \* as (\w+) from "\.\/(\w+)\.ts"/g))
      for (const [, alias, file] of exported) expect(alias).toBe(file)
      expect(exported.map(([, , file]) => file).toSorted()).toEqual(publicModules(pkg))
    })

    it(`@async-ops/${pkg}: every public export has JSDoc with @since`, () => {
      const files = [...publicModules(pkg), "index"].map((m) => join(root, "packages", pkg, "src", `${m}.ts`))
      expect(files.flatMap((f) => undocumented(f).map((name) => `${f.slice(root.length + 1)}: ${name}`))).toEqual([])
      const barrel = readFileSync(join(root, "packages", pkg, "src", "index.ts"), "utf8")
      const blocks = barrel.split(/^export \* as/m).slice(0, -1)
      for (const block of blocks) expect(block).toMatch(/@since \d+\.\d+\.\d+\s*\*\/\s*$/)
    })
  }

  it("every public module can be imported on its own, first (no import cycle through internal/)", () => {
    // one process per module: an import cycle only shows when that module is the first one loaded
    const broken = packages.flatMap((pkg) =>
      publicModules(pkg).flatMap((m) => {
        const r = spawnSync(process.execPath, ["--input-type=module", "-e", `await import("@async-ops/${pkg}/${m}")`], {
          cwd: join(root, "test"),
          encoding: "utf8"
        })
        return r.status === 0
          ? []
          : [`@async-ops/${pkg}/${m}: ${r.stderr.split("\n").find((l) => l.includes("Error"))}`]
      })
    )
    expect(broken).toEqual([])
  }, 120_000)

  it("internal modules cannot be imported from outside a package; public ones can", () => {
    const probe = (specifier: string) =>
      spawnSync(process.execPath, ["--input-type=module", "-e", `await import(${JSON.stringify(specifier)})`], {
        cwd: join(root, "test"),
        encoding: "utf8"
      })
    for (const pkg of ["core", "testing"]) {
      const ok = probe(`@async-ops/${pkg}`)
      expect(ok.stderr).toBe("")
      expect(ok.status).toBe(0)
      const internal = probe(`@async-ops/${pkg}/internal/${pkg === "core" ? "taskGroup" : "leakCheck"}`)
      expect(internal.status).not.toBe(0)
      expect(internal.stderr).toContain("ERR_PACKAGE_PATH_NOT_EXPORTED")
    }
    const deep = probe("@async-ops/core/TaskGroup")
    expect(deep.stderr).toBe("")
    expect(deep.status).toBe(0)
  })
})
