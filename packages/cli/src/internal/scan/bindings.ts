/**
 * @internal
 *
 * Module bindings: which local names stand for `node:fs`, `node:child_process`, `node:crypto`, `node:zlib` or
 * Effect (imports, `require`, aliases), and which names a local declaration shadows.
 */
import ts from "typescript"
import type { RuleId } from "../../Scan.ts"

export type ModuleKind = "fs" | "fs/promises" | "child_process" | "crypto" | "zlib" | "effect"

export const moduleOf = (specifier: string): ModuleKind | undefined => {
  switch (specifier) {
    case "fs":
    case "node:fs":
    case "fs-extra":
    case "graceful-fs":
      return "fs"
    case "fs/promises":
    case "node:fs/promises":
      return "fs/promises"
    case "child_process":
    case "node:child_process":
      return "child_process"
    case "crypto":
    case "node:crypto":
      return "crypto"
    case "zlib":
    case "node:zlib":
      return "zlib"
    case "effect/Effect":
      return "effect"
    default:
      return undefined
  }
}

export const ruleOfModule = (module: ModuleKind): RuleId | undefined => {
  switch (module) {
    case "fs":
      return "blocking-fs"
    case "child_process":
      return "blocking-child-process"
    case "crypto":
      return "blocking-crypto"
    case "zlib":
      return "blocking-zlib"
    default:
      return undefined
  }
}

export interface Named {
  readonly module: ModuleKind
  readonly name: string
}

export interface Bindings {
  /** A local name bound to a whole module object (`import * as fs`, `import fs`, `const fs = require("fs")`). */
  readonly namespaces: Map<string, ModuleKind>
  /** A local name bound to one export (`import { readFileSync as r }`, `const { execSync } = require(...)`). */
  readonly named: Map<string, Named>
  /** Names of `async` functions declared in the file. */
  readonly asyncFunctions: Set<string>
  /** The variable declarations that create module bindings (they do not shadow themselves). */
  readonly declarations: Set<ts.Node>
}

export const skipOuter = (node: ts.Expression): ts.Expression => {
  let current = node
  for (;;) {
    if (
      ts.isParenthesizedExpression(current) || ts.isAsExpression(current) || ts.isNonNullExpression(current) ||
      ts.isSatisfiesExpression(current) || ts.isTypeAssertionExpression(current)
    ) {
      current = current.expression
    } else {
      return current
    }
  }
}

export const hasModifier = (node: ts.Node, kind: ts.SyntaxKind): boolean =>
  ts.canHaveModifiers(node) && (ts.getModifiers(node)?.some((m) => m.kind === kind) ?? false)

export const isAsyncFunction = (node: ts.Node): boolean => hasModifier(node, ts.SyntaxKind.AsyncKeyword)

/** The module a `require("x")` / `await import("x")` expression loads. */
export const requiredModule = (node: ts.Expression): ModuleKind | undefined => {
  let expr = skipOuter(node)
  if (ts.isAwaitExpression(expr)) expr = skipOuter(expr.expression)
  if (!ts.isCallExpression(expr)) return undefined
  const callee = expr.expression
  const isRequire = ts.isIdentifier(callee) && callee.text === "require"
  const isImport = callee.kind === ts.SyntaxKind.ImportKeyword
  const arg = expr.arguments[0]
  if ((isRequire || isImport) && arg !== undefined && ts.isStringLiteralLike(arg)) return moduleOf(arg.text)
  return undefined
}

export const propertyNameText = (name: ts.PropertyName): string | undefined =>
  ts.isIdentifier(name) || ts.isStringLiteralLike(name) ? name.text : undefined

export const collectBindings = (sourceFile: ts.SourceFile): Bindings => {
  const namespaces = new Map<string, ModuleKind>()
  const named = new Map<string, Named>()
  const asyncFunctions = new Set<string>()
  const declarations = new Set<ts.Node>()

  const bindImport = (specifier: string, clause: ts.ImportClause) => {
    if (clause.isTypeOnly) return
    const module = moduleOf(specifier)
    if (specifier === "effect") {
      // `import { Effect } from "effect"` / `import { Effect as E } from "effect"`
      const bindings = clause.namedBindings
      if (bindings !== undefined && ts.isNamedImports(bindings)) {
        for (const element of bindings.elements) {
          if (element.isTypeOnly) continue
          if ((element.propertyName ?? element.name).text === "Effect") namespaces.set(element.name.text, "effect")
        }
      }
      return
    }
    if (module === undefined) return
    if (clause.name !== undefined) namespaces.set(clause.name.text, module)
    const bindings = clause.namedBindings
    if (bindings === undefined) return
    if (ts.isNamespaceImport(bindings)) {
      namespaces.set(bindings.name.text, module)
      return
    }
    for (const element of bindings.elements) {
      if (element.isTypeOnly) continue
      const imported = (element.propertyName ?? element.name).text
      if (module === "fs" && imported === "promises") namespaces.set(element.name.text, "fs/promises")
      else named.set(element.name.text, { module, name: imported })
    }
  }

  const bindPattern = (pattern: ts.ObjectBindingPattern, module: ModuleKind) => {
    for (const element of pattern.elements) {
      if (element.dotDotDotToken !== undefined || !ts.isIdentifier(element.name)) continue
      const imported = element.propertyName === undefined
        ? element.name.text
        : propertyNameText(element.propertyName)
      if (imported === undefined) continue
      if (module === "fs" && imported === "promises") namespaces.set(element.name.text, "fs/promises")
      else named.set(element.name.text, { module, name: imported })
    }
  }

  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      if (node.importClause !== undefined && ts.isStringLiteral(node.moduleSpecifier)) {
        bindImport(node.moduleSpecifier.text, node.importClause)
      }
      return
    }
    if (ts.isImportEqualsDeclaration(node)) {
      const ref = node.moduleReference
      if (!node.isTypeOnly && ts.isExternalModuleReference(ref) && ts.isStringLiteral(ref.expression)) {
        const module = moduleOf(ref.expression.text)
        if (module !== undefined) namespaces.set(node.name.text, module)
      }
      return
    }
    if (ts.isFunctionDeclaration(node) && node.name !== undefined && isAsyncFunction(node)) {
      asyncFunctions.add(node.name.text)
    }
    if (ts.isVariableDeclaration(node) && node.initializer !== undefined) {
      const init = skipOuter(node.initializer)
      if ((ts.isArrowFunction(init) || ts.isFunctionExpression(init)) && isAsyncFunction(init)) {
        if (ts.isIdentifier(node.name)) asyncFunctions.add(node.name.text)
      }
      // `const fs = require("fs")`, `const { execSync } = require("child_process")`, `const { readFileSync } = fs`
      const module = requiredModule(init) ??
        (ts.isIdentifier(init) ? namespaces.get(init.text) : undefined)
      if (module !== undefined) {
        declarations.add(node)
        if (ts.isIdentifier(node.name)) namespaces.set(node.name.text, module)
        else if (ts.isObjectBindingPattern(node.name)) bindPattern(node.name, module)
      }
    }
    ts.forEachChild(node, visit)
  }
  visit(sourceFile)
  return { namespaces, named, asyncFunctions, declarations }
}

export const addBoundNames = (name: ts.BindingName, into: Set<string>): void => {
  if (ts.isIdentifier(name)) {
    into.add(name.text)
    return
  }
  for (const element of name.elements) {
    if (!ts.isOmittedExpression(element)) addBoundNames(element.name, into)
  }
}

export const addListNames = (list: ts.VariableDeclarationList, into: Set<string>, skip: ReadonlySet<ts.Node>): void => {
  for (const decl of list.declarations) {
    if (!skip.has(decl)) addBoundNames(decl.name, into)
  }
}

export const NO_NAMES: ReadonlySet<string> = new Set()

export const isFunctionDeclarationLike = (node: ts.Node): node is ts.FunctionLikeDeclaration =>
  ts.isFunctionDeclaration(node) || ts.isFunctionExpression(node) || ts.isArrowFunction(node) ||
  ts.isMethodDeclaration(node) || ts.isConstructorDeclaration(node) || ts.isGetAccessorDeclaration(node) ||
  ts.isSetAccessorDeclaration(node)

/** The names `container` itself declares: parameters, or the variables, functions and classes of its own block. */
export const declaredNames = (container: ts.Node, skip: ReadonlySet<ts.Node>): ReadonlySet<string> => {
  const names = new Set<string>()
  if (ts.isFunctionLike(container)) {
    for (const param of container.parameters) addBoundNames(param.name, names)
  } else if (ts.isForStatement(container) || ts.isForOfStatement(container) || ts.isForInStatement(container)) {
    const init = container.initializer
    if (init !== undefined && ts.isVariableDeclarationList(init)) addListNames(init, names, skip)
  } else if (ts.isCatchClause(container)) {
    if (container.variableDeclaration !== undefined) addBoundNames(container.variableDeclaration.name, names)
  } else if (
    ts.isBlock(container) || ts.isSourceFile(container) || ts.isModuleBlock(container) ||
    ts.isCaseClause(container) || ts.isDefaultClause(container)
  ) {
    for (const statement of container.statements) {
      if (ts.isVariableStatement(statement)) addListNames(statement.declarationList, names, skip)
      else if ((ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement)) && statement.name) {
        names.add(statement.name.text)
      }
    }
  }
  return names.size === 0 ? NO_NAMES : names
}
