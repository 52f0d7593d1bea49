/** @internal */
import { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Path from "effect/Path"
import ts from "typescript"
import type { Finding, FindingContext, Options, Report, RuleId, Unparsable } from "../Scan.ts"
import { FileReadError, NothingToScanError, PathNotFoundError, ScanExitError } from "../Scan.ts"

// ---------------------------------------------------------------------------------------------------------------
// rules
// ---------------------------------------------------------------------------------------------------------------

/** @internal */
export const ruleIds: ReadonlyArray<RuleId> = [
  "blocking-fs",
  "blocking-child-process",
  "blocking-crypto",
  "blocking-zlib",
  "atomics-wait",
  "busy-wait",
  "orphaned-fiber",
  "floating-promise"
]

/** @internal */
export const ruleDescriptions: { readonly [K in RuleId]: string } = {
  "blocking-fs": "a synchronous node:fs call (readFileSync, writeFileSync, existsSync, ...)",
  "blocking-child-process": "a synchronous node:child_process call (execSync, execFileSync, spawnSync)",
  "blocking-crypto":
    "a synchronous node:crypto call (pbkdf2Sync, scryptSync, randomFillSync, generateKeyPairSync, ...)",
  "blocking-zlib": "a synchronous node:zlib call (gzipSync, inflateSync, brotliCompressSync, ...)",
  "atomics-wait": "Atomics.wait, which parks the event-loop thread",
  "busy-wait": "a loop spinning on Date.now() / performance.now() with a trivial body",
  "orphaned-fiber": "a forked fiber whose handle is dropped, or Effect.runFork as a bare statement inside Effect code",
  "floating-promise": "a promise-returning call used as a statement, neither awaited nor marked with void"
}

const withoutSync = (name: string): string => name.endsWith("Sync") ? name.slice(0, -4) : name

const fixFor = (rule: RuleId, name: string): string => {
  const base = withoutSync(name)
  switch (rule) {
    case "blocking-fs":
      return base === "exists"
        ? "use FileSystem.exists (effect), or Effect.tryPromise(() => fs.promises.access(...))"
        : `use FileSystem.${base} (effect), or Effect.tryPromise(() => fs.promises.${base}(...))`
    case "blocking-child-process":
      return `use ChildProcess from effect/process, or child_process.${base} in Effect.callback`
    case "blocking-crypto":
      return `use the callback form crypto.${base} in Effect.callback, or offload to a worker thread (Offload)`
    case "blocking-zlib":
      return `use the callback or stream form zlib.${base}, or offload to a worker thread (Offload)`
    case "atomics-wait":
      return "use Effect.sleep (or Atomics.waitAsync): never park the event-loop thread"
    case "busy-wait":
      return "use Effect.sleep / Clock instead of spinning on the clock"
    case "orphaned-fiber":
      return name === "runFork"
        ? "do not start a new root fiber from Effect code: fork into a scope (forkScoped / FiberSet / TaskGroup)"
        : "keep the fiber: forkScoped / FiberSet / TaskGroup, or bind the handle and join or interrupt it"
    case "floating-promise":
      return "await it (yield* Effect.promise / Effect.tryPromise in Effect code), or write void if fire-and-forget is meant"
  }
}

// ---------------------------------------------------------------------------------------------------------------
// module bindings (aliases)
// ---------------------------------------------------------------------------------------------------------------

type ModuleKind = "fs" | "fs/promises" | "child_process" | "crypto" | "zlib" | "effect"

const moduleOf = (specifier: string): ModuleKind | undefined => {
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

const ruleOfModule = (module: ModuleKind): RuleId | undefined => {
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

interface Named {
  readonly module: ModuleKind
  readonly name: string
}

interface Bindings {
  /** A local name bound to a whole module object (`import * as fs`, `import fs`, `const fs = require("fs")`). */
  readonly namespaces: Map<string, ModuleKind>
  /** A local name bound to one export (`import { readFileSync as r }`, `const { execSync } = require(...)`). */
  readonly named: Map<string, Named>
  /** Names of `async` functions declared in the file. */
  readonly asyncFunctions: Set<string>
  /** The variable declarations that create module bindings (they do not shadow themselves). */
  readonly declarations: Set<ts.Node>
}

const skipOuter = (node: ts.Expression): ts.Expression => {
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

const hasModifier = (node: ts.Node, kind: ts.SyntaxKind): boolean =>
  ts.canHaveModifiers(node) && (ts.getModifiers(node)?.some((m) => m.kind === kind) ?? false)

const isAsyncFunction = (node: ts.Node): boolean => hasModifier(node, ts.SyntaxKind.AsyncKeyword)

/** The module a `require("x")` / `await import("x")` expression loads. */
const requiredModule = (node: ts.Expression): ModuleKind | undefined => {
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

const propertyNameText = (name: ts.PropertyName): string | undefined =>
  ts.isIdentifier(name) || ts.isStringLiteralLike(name) ? name.text : undefined

const collectBindings = (sourceFile: ts.SourceFile): Bindings => {
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

const addBoundNames = (name: ts.BindingName, into: Set<string>): void => {
  if (ts.isIdentifier(name)) {
    into.add(name.text)
    return
  }
  for (const element of name.elements) {
    if (!ts.isOmittedExpression(element)) addBoundNames(element.name, into)
  }
}

const addListNames = (list: ts.VariableDeclarationList, into: Set<string>, skip: ReadonlySet<ts.Node>): void => {
  for (const decl of list.declarations) {
    if (!skip.has(decl)) addBoundNames(decl.name, into)
  }
}

const NO_NAMES: ReadonlySet<string> = new Set()

const isFunctionDeclarationLike = (node: ts.Node): node is ts.FunctionLikeDeclaration =>
  ts.isFunctionDeclaration(node) || ts.isFunctionExpression(node) || ts.isArrowFunction(node) ||
  ts.isMethodDeclaration(node) || ts.isConstructorDeclaration(node) || ts.isGetAccessorDeclaration(node) ||
  ts.isSetAccessorDeclaration(node)

/** The names `container` itself declares: parameters, or the variables, functions and classes of its own block. */
const declaredNames = (container: ts.Node, skip: ReadonlySet<ts.Node>): ReadonlySet<string> => {
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

// ---------------------------------------------------------------------------------------------------------------
// the analysis
// ---------------------------------------------------------------------------------------------------------------

type Kind = "sync" | FindingContext

interface Scope {
  readonly kind: Kind
  /**
   * Names called anywhere in the enclosing Effect or async body (nested functions included, so a nested function
   * shares its body's set): a named helper defined in the body and called there inherits the kind.
   */
  readonly calledNames: ReadonlySet<string>
  /**
   * Whether the code runs on a fiber while it runs (an Effect body, a callback given to `Effect.*`, or an array
   * method's callback inside those), as opposed to a callback some Node API calls later (`emitter.on`, `fs.watch`),
   * where `Effect.runFork` is the usual bridge back into Effect.
   */
  readonly onFiber: boolean
}

const SYNC: Scope = { kind: "sync", calledNames: new Set(), onFiber: false }

/** Array methods that call their callback right away, on the caller's fiber. */
const eagerCallbackMethods = new Set([
  "forEach",
  "map",
  "flatMap",
  "filter",
  "reduce",
  "reduceRight",
  "some",
  "every",
  "find",
  "findIndex",
  "findLast",
  "findLastIndex",
  "toSorted",
  "sort"
])

const effectGeneratorHosts = new Set(["gen", "fn", "fnUntraced", "fnUntracedEager"])
const forkNames = new Set(["forkChild", "forkDetach", "fork", "forkDaemon"])
const MAX_CALL_TEXT = 100

const memberName = (node: ts.Expression): string | undefined => {
  if (ts.isPropertyAccessExpression(node)) return node.name.text
  if (ts.isElementAccessExpression(node) && ts.isStringLiteralLike(node.argumentExpression)) {
    return node.argumentExpression.text
  }
  return undefined
}

const collapse = (text: string): string => {
  let out = ""
  let space = false
  for (const ch of text) {
    if (ch === " " || ch === "\n" || ch === "\r" || ch === "\t") {
      space = out.length > 0
    } else {
      if (space) out += " "
      space = false
      out += ch
    }
  }
  return out.length > MAX_CALL_TEXT ? `${out.slice(0, MAX_CALL_TEXT - 1)}…` : out
}

/**
 * The first syntax error of a parsed file, if any. TypeScript's parser keeps them on the source file
 * (`parseDiagnostics`, not in its public typings but what `ts.transpileModule` reports from).
 */
const syntaxError = (sourceFile: ts.SourceFile): Unparsable | undefined => {
  const diagnostics = (sourceFile as unknown as { readonly parseDiagnostics?: ReadonlyArray<ts.Diagnostic> })
    .parseDiagnostics
  const first = diagnostics?.[0]
  if (first === undefined) return undefined
  const { character, line } = sourceFile.getLineAndCharacterOfPosition(first.start ?? 0)
  return {
    file: sourceFile.fileName,
    line: line + 1,
    column: character + 1,
    message: ts.flattenDiagnosticMessageText(first.messageText, " ")
  }
}

/** Parses and analyzes one file: its findings, or its first syntax error (then it is not analyzed). */
const analyzeFile = (fileName: string, text: string, rules: ReadonlySet<RuleId>): Array<Finding> | Unparsable => {
  const sourceFile = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, scriptKindOf(fileName))
  return syntaxError(sourceFile) ?? analyzeSource(sourceFile, rules)
}

/** @internal */
export const analyze = (fileName: string, text: string, rules: ReadonlySet<RuleId>): Array<Finding> =>
  analyzeSource(ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, scriptKindOf(fileName)), rules)

const analyzeSource = (sourceFile: ts.SourceFile, rules: ReadonlySet<RuleId>): Array<Finding> => {
  const bindings = collectBindings(sourceFile)
  const findings: Array<Finding> = []

  const report = (node: ts.Node, rule: RuleId, name: string, kind: FindingContext, callText?: string) => {
    if (!rules.has(rule)) return
    const start = node.getStart(sourceFile)
    const { character, line } = sourceFile.getLineAndCharacterOfPosition(start)
    findings.push({
      file: sourceFile.fileName,
      line: line + 1,
      column: character + 1,
      rule,
      call: collapse(callText ?? node.getText(sourceFile)),
      context: kind,
      fix: fixFor(rule, name)
    })
  }

  /** Whether an identifier is a name this file binds to a module or an export (so it is not the global). */
  const isBound = (name: string) => bindings.namespaces.has(name) || bindings.named.has(name)

  /** Whether a local declaration (a parameter, a variable, a nested function) hides the file-level meaning. */
  const declaredCache = new Map<ts.Node, ReadonlySet<string>>()
  const isShadowed = (id: ts.Identifier): boolean => {
    for (let node: ts.Node | undefined = id.parent; node !== undefined; node = node.parent) {
      let names = declaredCache.get(node)
      if (names === undefined) {
        names = declaredNames(node, bindings.declarations)
        declaredCache.set(node, names)
      }
      if (names.has(id.text)) return true
    }
    return false
  }

  /** A global (`Atomics`, `Date`, `fetch`) that the file neither imports nor declares. */
  const isGlobal = (id: ts.Identifier, name: string): boolean => id.text === name && !isBound(name) && !isShadowed(id)

  const resolveNamespace = (node: ts.Expression): ModuleKind | undefined => {
    const expr = skipOuter(node)
    if (ts.isIdentifier(expr)) {
      const module = bindings.namespaces.get(expr.text)
      if (module !== undefined) return isShadowed(expr) ? undefined : module
      // `Effect` re-exported from somewhere else (a barrel of the project) is still Effect.
      return isGlobal(expr, "Effect") ? "effect" : undefined
    }
    const member = memberName(expr)
    if (member !== undefined && (ts.isPropertyAccessExpression(expr) || ts.isElementAccessExpression(expr))) {
      const parent = resolveNamespace(expr.expression)
      if (parent === "fs" && member === "promises") return "fs/promises"
      if (parent !== undefined && member === "default") return parent
      return undefined
    }
    return requiredModule(expr)
  }

  const resolveCallee = (node: ts.Expression): Named | undefined => {
    const expr = skipOuter(node)
    if (ts.isIdentifier(expr)) {
      const named = bindings.named.get(expr.text)
      return named === undefined || isShadowed(expr) ? undefined : named
    }
    const member = memberName(expr)
    if (member !== undefined && (ts.isPropertyAccessExpression(expr) || ts.isElementAccessExpression(expr))) {
      const module = resolveNamespace(expr.expression)
      return module === undefined ? undefined : { module, name: member }
    }
    return undefined
  }

  /** `Effect.x` (any alias of Effect) → `"x"`. */
  const effectMember = (node: ts.Expression): string | undefined => {
    const callee = resolveCallee(node)
    return callee?.module === "effect" ? callee.name : undefined
  }

  const isEffectGenerator = (fn: ts.FunctionExpression): boolean => {
    const call = fn.parent
    if (!ts.isCallExpression(call) || !call.arguments.includes(fn)) return false
    const host = effectMember(call.expression)
    if (host !== undefined) return effectGeneratorHosts.has(host)
    // `Effect.fn("name")(function*() {...})`, `Effect.fn("name", options)(function*() {...})`
    const inner = skipOuter(call.expression)
    if (ts.isCallExpression(inner)) {
      const curried = effectMember(inner.expression)
      return curried !== undefined && effectGeneratorHosts.has(curried) && curried !== "gen"
    }
    return false
  }

  /** The call a function is passed to inline (directly, or as a property of an object literal argument). */
  const inlineCallHost = (fn: ts.Node): ts.CallExpression | ts.NewExpression | undefined => {
    let child: ts.Node = fn
    let parent = fn.parent
    while (ts.isParenthesizedExpression(parent) || ts.isAsExpression(parent) || ts.isSatisfiesExpression(parent)) {
      child = parent
      parent = parent.parent
    }
    if (ts.isPropertyAssignment(parent) || ts.isMethodDeclaration(fn)) {
      const literal = ts.isPropertyAssignment(parent) ? parent.parent : parent
      if (!ts.isObjectLiteralExpression(literal)) return undefined
      child = literal
      parent = literal.parent
    }
    const args: ReadonlyArray<ts.Node> | undefined = ts.isCallExpression(parent) || ts.isNewExpression(parent)
      ? parent.arguments
      : undefined
    if ((ts.isCallExpression(parent) || ts.isNewExpression(parent)) && args?.includes(child)) {
      return parent
    }
    return undefined
  }

  /** A call that runs its callback off the event loop (a worker thread): `Offload.run(...)`, `new Worker(...)`. */
  const isOffloadCall = (call: ts.CallExpression | ts.NewExpression): boolean => {
    let expr: ts.Expression = call.expression
    for (;;) {
      expr = skipOuter(expr)
      if (ts.isIdentifier(expr)) {
        const name = expr.text.toLowerCase()
        return name.includes("offload") || (ts.isNewExpression(call) && expr.text === "Worker")
      }
      const member = memberName(expr)
      if (member !== undefined && member.toLowerCase().includes("offload")) return true
      if (ts.isPropertyAccessExpression(expr) || ts.isElementAccessExpression(expr) || ts.isCallExpression(expr)) {
        expr = expr.expression
      } else {
        return false
      }
    }
  }

  const functionName = (fn: ts.FunctionLikeDeclaration): string | undefined => {
    if (ts.isFunctionDeclaration(fn)) return fn.name?.text
    let parent = fn.parent
    while (ts.isParenthesizedExpression(parent) || ts.isAsExpression(parent) || ts.isSatisfiesExpression(parent)) {
      parent = parent.parent
    }
    if (ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) return parent.name.text
    return undefined
  }

  const calledNamesIn = (body: ts.Node | undefined): Set<string> => {
    const names = new Set<string>()
    const visit = (node: ts.Node): void => {
      if (ts.isCallExpression(node)) {
        const callee = skipOuter(node.expression)
        if (ts.isIdentifier(callee)) names.add(callee.text)
      }
      ts.forEachChild(node, visit)
    }
    if (body !== undefined) visit(body)
    return names
  }

  const scopeOf = (fn: ts.FunctionLikeDeclaration, outer: Scope): Scope => {
    if (ts.isFunctionExpression(fn) && fn.asteriskToken !== undefined && isEffectGenerator(fn)) {
      return { kind: "effect", calledNames: calledNamesIn(fn.body), onFiber: true }
    }
    if (isAsyncFunction(fn)) return { kind: "async", calledNames: calledNamesIn(fn.body), onFiber: false }
    const host = ts.isFunctionExpression(fn) || ts.isArrowFunction(fn) || ts.isMethodDeclaration(fn)
      ? inlineCallHost(fn)
      : undefined
    // A callback passed straight to an Effect constructor or operator (`Effect.sync(() => ...)`,
    // `Effect.map((a) => ...)`) runs inside a fiber, wherever it is written.
    const effectHost = host !== undefined && ts.isCallExpression(host) && effectMember(host.expression) !== undefined
    if (outer.kind === "sync") {
      return effectHost ? { kind: "effect", calledNames: calledNamesIn(fn.body), onFiber: true } : SYNC
    }
    // A plain function inside an Effect or async body.
    if (host !== undefined) {
      // An inline callback (`Effect.sync(() => ...)`, `Effect.try({ try: () => ... })`, `xs.map(x => ...)`) runs
      // on the same thread during the body, unless it is handed to a worker.
      if (isOffloadCall(host)) return SYNC
      const eager = effectHost || eagerCallbackMethods.has(memberName(skipOuter(host.expression)) ?? "")
      const onFiber = effectHost || (eager && outer.onFiber)
      return onFiber === outer.onFiber ? outer : { ...outer, onFiber }
    }
    // A named helper: it blocks the body only if the body calls it.
    const name = functionName(fn)
    if (name !== undefined && outer.calledNames.has(name)) {
      return outer
    }
    return SYNC
  }

  // --- busy-wait ------------------------------------------------------------------------------------------------

  const isClockCall = (node: ts.Node): boolean => {
    if (!ts.isCallExpression(node) || node.arguments.length !== 0) return false
    const callee = skipOuter(node.expression)
    if (memberName(callee) !== "now" || !(ts.isPropertyAccessExpression(callee))) return false
    let target = skipOuter(callee.expression)
    if (ts.isPropertyAccessExpression(target) && ts.isIdentifier(target.expression)) {
      if (target.expression.text !== "globalThis") return false
      target = target.name
    }
    return ts.isIdentifier(target) && (isGlobal(target, "Date") || isGlobal(target, "performance"))
  }

  const containsClockCall = (node: ts.Node): boolean => {
    if (ts.isFunctionLike(node)) return false
    if (isClockCall(node)) return true
    return ts.forEachChild(node, containsClockCall) === true
  }

  /** No call (other than the clock), no `new`, no `await` or `yield`: the loop only spins. */
  const isTrivial = (node: ts.Node | undefined): boolean => {
    if (node === undefined) return true
    const busy = (n: ts.Node): boolean => {
      if (ts.isFunctionLike(n)) return false
      if (ts.isCallExpression(n) && !isClockCall(n)) return true
      if (ts.isNewExpression(n) || ts.isAwaitExpression(n) || ts.isYieldExpression(n)) return true
      if (ts.isCallExpression(n)) return false
      return ts.forEachChild(n, busy) === true
    }
    return !busy(node)
  }

  const checkLoop = (node: ts.IterationStatement, kind: FindingContext) => {
    const src = (n: ts.Node | undefined) => n === undefined ? "" : n.getText(sourceFile)
    if (ts.isWhileStatement(node) || ts.isDoStatement(node)) {
      if (containsClockCall(node.expression) && isTrivial(node.statement)) {
        const header = ts.isWhileStatement(node)
          ? `while (${src(node.expression)})`
          : `do … while (${src(node.expression)})`
        report(node, "busy-wait", "", kind, header)
      }
    } else if (ts.isForStatement(node)) {
      if (
        node.condition !== undefined && containsClockCall(node.condition) && isTrivial(node.statement) &&
        isTrivial(node.incrementor)
      ) {
        report(
          node,
          "busy-wait",
          "",
          kind,
          `for (${src(node.initializer)}; ${src(node.condition)};${
            node.incrementor ? ` ${src(node.incrementor)}` : ""
          })`
        )
      }
    }
  }

  // --- orphaned fibers and floating promises --------------------------------------------------------------------

  const isForkRef = (node: ts.Expression): boolean => {
    const expr = skipOuter(node)
    const direct = effectMember(expr)
    if (direct !== undefined) return forkNames.has(direct)
    if (ts.isCallExpression(expr)) {
      const curried = effectMember(expr.expression)
      return curried !== undefined && forkNames.has(curried)
    }
    return false
  }

  /** `Effect.forkDetach(eff)`, `eff.pipe(..., Effect.forkChild)`, `pipe(eff, Effect.forkDetach)`. */
  const isForkCall = (node: ts.Expression): string | undefined => {
    const expr = skipOuter(node)
    if (!ts.isCallExpression(expr)) return undefined
    const member = effectMember(expr.expression)
    if (member !== undefined) return forkNames.has(member) ? member : undefined
    const callee = skipOuter(expr.expression)
    if (ts.isCallExpression(callee) && isForkRef(callee)) return "fork"
    const isPipe = (ts.isPropertyAccessExpression(callee) && callee.name.text === "pipe") ||
      (ts.isIdentifier(callee) && callee.text === "pipe")
    const last = expr.arguments[expr.arguments.length - 1]
    return isPipe && last !== undefined && isForkRef(last) ? "fork" : undefined
  }

  const promiseCall = (call: ts.CallExpression): string | undefined => {
    const callee = skipOuter(call.expression)
    if (ts.isIdentifier(callee)) {
      if (bindings.asyncFunctions.has(callee.text)) return callee.text
      if (isGlobal(callee, "fetch")) return "fetch"
    }
    const resolved = resolveCallee(callee)
    if (resolved?.module === "fs/promises") return resolved.name
    if (resolved?.module === "effect" && (resolved.name === "runPromise" || resolved.name === "runPromiseExit")) {
      return resolved.name
    }
    if (ts.isCallExpression(callee)) {
      const curried = effectMember(callee.expression)
      if (curried === "runPromiseWith" || curried === "runPromiseExitWith") return curried
    }
    const member = memberName(callee)
    if ((member === "then" && call.arguments.length === 1) || member === "finally") return member
    return undefined
  }

  const checkStatement = (node: ts.ExpressionStatement, kind: FindingContext, onFiber: boolean) => {
    const expr = skipOuter(node.expression)
    if (kind === "effect" && ts.isYieldExpression(expr) && expr.asteriskToken !== undefined && expr.expression) {
      const fork = isForkCall(expr.expression)
      if (fork !== undefined) report(expr, "orphaned-fiber", fork, kind)
      return
    }
    if (!ts.isCallExpression(expr)) return
    if (kind === "effect") {
      const member = effectMember(expr.expression)
      const callee = skipOuter(expr.expression)
      const curried = ts.isCallExpression(callee) ? effectMember(callee.expression) : undefined
      if (member === "runFork" || curried === "runForkWith") {
        if (onFiber) report(expr, "orphaned-fiber", "runFork", kind)
        return
      }
    }
    const promise = promiseCall(expr)
    if (promise !== undefined) report(expr, "floating-promise", promise, kind)
  }

  const checkCall = (node: ts.CallExpression, kind: FindingContext) => {
    const callee = resolveCallee(node.expression)
    if (callee !== undefined && callee.name.endsWith("Sync")) {
      const rule = ruleOfModule(callee.module)
      if (rule !== undefined) report(node, rule, callee.name, kind)
      return
    }
    const expr = skipOuter(node.expression)
    if (ts.isPropertyAccessExpression(expr) && expr.name.text === "wait") {
      let target = skipOuter(expr.expression)
      if (ts.isPropertyAccessExpression(target) && ts.isIdentifier(target.expression)) {
        if (target.expression.text !== "globalThis") return
        target = target.name
      }
      if (ts.isIdentifier(target) && isGlobal(target, "Atomics")) {
        report(node, "atomics-wait", "wait", kind)
      }
    }
  }

  const visit = (node: ts.Node, scope: Scope): void => {
    if (isFunctionDeclarationLike(node)) {
      const inner = scopeOf(node, scope)
      ts.forEachChild(node, (child) => visit(child, inner))
      return
    }
    const kind = scope.kind
    if (kind !== "sync") {
      if (ts.isCallExpression(node)) checkCall(node, kind)
      else if (ts.isExpressionStatement(node)) checkStatement(node, kind, scope.onFiber)
      else if (ts.isIterationStatement(node, false)) checkLoop(node, kind)
    }
    ts.forEachChild(node, (child) => visit(child, scope))
  }
  visit(sourceFile, SYNC)

  return findings.toSorted((a, b) => a.line - b.line || a.column - b.column || a.rule.localeCompare(b.rule))
}

// ---------------------------------------------------------------------------------------------------------------
// files
// ---------------------------------------------------------------------------------------------------------------

const scannableExtensions = [".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs"]
const declarationExtensions = [".d.ts", ".d.mts", ".d.cts"]
const skippedDirectories = new Set(["node_modules", "dist", ".git"])

const isScannable = (file: string): boolean =>
  scannableExtensions.some((ext) => file.endsWith(ext)) && !declarationExtensions.some((ext) => file.endsWith(ext))

const scriptKindOf = (file: string): ts.ScriptKind => {
  if (file.endsWith(".tsx")) return ts.ScriptKind.TSX
  if (file.endsWith(".jsx")) return ts.ScriptKind.JSX
  if (file.endsWith(".js") || file.endsWith(".mjs") || file.endsWith(".cjs")) return ts.ScriptKind.JS
  return ts.ScriptKind.TS
}

const reasonOf = (error: { readonly message: string }): string => error.message

const collectFiles = (paths: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const files: Array<string> = []
    const seen = new Set<string>()
    const directories = new Set<string>()
    const skipped = new Set<string>()
    let matched = 0

    const walk = (target: string, explicit: boolean): Effect.Effect<void, PathNotFoundError | FileReadError> =>
      Effect.gen(function*() {
        const info = yield* fs.stat(target).pipe(
          Effect.catchTag("PlatformError", (error): Effect.Effect<
            FileSystem.File.Info | undefined,
            PathNotFoundError | FileReadError
          > => {
            if (error.reason._tag === "NotFound") {
              // A dangling entry inside a directory (a broken symlink) is skipped; a missing argument is an error.
              return explicit ? Effect.fail(new PathNotFoundError({ path: target })) : Effect.succeed(undefined)
            }
            return Effect.fail(new FileReadError({ path: target, reason: reasonOf(error) }))
          })
        )
        if (info === undefined) return
        if (info.type === "Directory") {
          const real = yield* fs.realPath(target).pipe(
            Effect.mapError((error) => new FileReadError({ path: target, reason: reasonOf(error) }))
          )
          if (explicit) directories.add(target)
          if (seen.has(real)) return
          seen.add(real)
          const names = yield* fs.readDirectory(target).pipe(
            Effect.mapError((error) => new FileReadError({ path: target, reason: reasonOf(error) }))
          )
          for (const name of names.toSorted()) {
            if (skippedDirectories.has(name)) {
              skipped.add(path.join(target, name))
              continue
            }
            yield* walk(path.join(target, name), false)
          }
        } else if (info.type === "File" && isScannable(target)) {
          matched++
          const resolved = path.resolve(target)
          if (seen.has(resolved)) return
          seen.add(resolved)
          files.push(target)
        }
      })

    for (const target of paths) {
      const before = matched
      const skippedBefore = skipped.size
      yield* walk(target, true)
      if (matched > before) continue
      if (!directories.has(target)) {
        return yield* new NothingToScanError({
          path: target,
          reason: "not a JavaScript or TypeScript file (.ts .tsx .mts .cts .js .jsx .mjs .cjs, not .d.ts)"
        })
      }
      return yield* new NothingToScanError({
        path: target,
        reason: skipped.size > skippedBefore
          ? `no JavaScript or TypeScript files outside ${Array.from(skippedDirectories).join(", ")} ` +
            `(skipped; name a directory inside them to scan it)`
          : "no JavaScript or TypeScript files"
      })
    }
    return files
  })

const validate = (options: Options | undefined): Effect.Effect<
  { readonly rules: ReadonlySet<RuleId>; readonly concurrency: number },
  InvalidOptionError
> => {
  const concurrency = options?.concurrency ?? 8
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    return Effect.fail(
      new InvalidOptionError({
        module: "Scan.scan",
        option: "concurrency",
        expected: "an integer >= 1",
        value: concurrency
      })
    )
  }
  const rules = options?.rules ?? ruleIds
  const unknown = rules.find((rule) => !ruleIds.includes(rule))
  if (unknown !== undefined || rules.length === 0) {
    return Effect.fail(
      new InvalidOptionError({
        module: "Scan.scan",
        option: "rules",
        expected: `a non-empty list of ${ruleIds.join(", ")}`,
        value: rules
      })
    )
  }
  return Effect.succeed({ rules: new Set(rules), concurrency })
}

/** @internal */
export const scan = (
  paths: ReadonlyArray<string>,
  options?: Options
): Effect.Effect<
  Report,
  PathNotFoundError | FileReadError | NothingToScanError | InvalidOptionError,
  FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function*() {
    const { concurrency, rules } = yield* validate(options)
    const fs = yield* FileSystem.FileSystem
    const files = yield* collectFiles(paths.length === 0 ? ["."] : paths)
    const perFile = yield* Effect.forEach(
      files,
      (file) =>
        fs.readFileString(file).pipe(
          Effect.mapError((error) => new FileReadError({ path: file, reason: reasonOf(error) })),
          Effect.map((text) => analyzeFile(file, text, rules))
        ),
      { concurrency }
    )
    const findings: Array<Finding> = []
    const unparsable: Array<Unparsable> = []
    for (const result of perFile) {
      if (Array.isArray(result)) findings.push(...result)
      else unparsable.push(result as Unparsable)
    }
    return { findings, filesScanned: files.length - unparsable.length, unparsable }
  })

// ---------------------------------------------------------------------------------------------------------------
// output
// ---------------------------------------------------------------------------------------------------------------

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

const countByRule = (findings: ReadonlyArray<Finding>): Partial<Record<RuleId, number>> => {
  const counts: Partial<Record<RuleId, number>> = {}
  for (const rule of ruleIds) {
    const n = findings.filter((finding) => finding.rule === rule).length
    if (n > 0) counts[rule] = n
  }
  return counts
}

const summary = (
  findings: ReadonlyArray<Finding>,
  filesScanned: number | undefined,
  unparsable: ReadonlyArray<Unparsable> = []
): string => {
  const scanned = (filesScanned === undefined ? "" : `, ${plural(filesScanned, "file")} scanned`) +
    (unparsable.length === 0 ? "" : `, ${plural(unparsable.length, "file")} not parsed (syntax errors)`)
  if (findings.length === 0) return `no problems found${scanned}`
  const byRule = Object.entries(countByRule(findings)).map(([rule, n]) => `${n} ${rule}`).join(", ")
  const files = new Set(findings.map((finding) => finding.file)).size
  return `${plural(findings.length, "problem")} (${byRule}) in ${plural(files, "file")}${scanned}`
}

const isReport = (input: Report | ReadonlyArray<Finding>): input is Report => "findings" in input

/** @internal */
export const formatText = (input: Report | ReadonlyArray<Finding>): string => {
  const findings = isReport(input) ? input.findings : input
  const unparsable = isReport(input) ? input.unparsable : []
  const lines = findings.map((f) => `${f.file}:${f.line}:${f.column} ${f.rule} ${f.call} → ${f.fix}`)
  for (const u of unparsable) lines.push(`${u.file}:${u.line}:${u.column} syntax error: ${u.message} (not scanned)`)
  lines.push(summary(findings, isReport(input) ? input.filesScanned : undefined, unparsable))
  return lines.join("\n")
}

/** @internal */
export const toJson = (report: Report) => ({
  findings: report.findings,
  unparsable: report.unparsable,
  summary: {
    filesScanned: report.filesScanned,
    filesNotParsed: report.unparsable.length,
    problems: report.findings.length,
    filesWithProblems: new Set(report.findings.map((finding) => finding.file)).size,
    byRule: countByRule(report.findings)
  }
})

/** @internal */
export const formatJson = (report: Report): string => JSON.stringify(toJson(report), null, 2)

// ---------------------------------------------------------------------------------------------------------------
// the command's handler
// ---------------------------------------------------------------------------------------------------------------

/**
 * Waits until everything written to stdout and stderr so far has reached the OS. `NodeRuntime.runMain` ends a failed
 * program with `process.exit(code)`, which drops output still queued for a pipe (anything past 64 KiB).
 */
const flushStdio: Effect.Effect<void> = Effect.callback<void>((resume) => {
  let pending = 2
  const done = () => {
    pending -= 1
    if (pending === 0) resume(Effect.void)
  }
  process.stdout.write("", done)
  process.stderr.write("", done)
})

/** @internal */
export const runCommand = (
  paths: ReadonlyArray<string>,
  json: boolean
): Effect.Effect<void, ScanExitError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const report = yield* scan(paths).pipe(
      Effect.catch((error) =>
        Console.error(`async-ops scan: ${error.message}`).pipe(
          Effect.andThen(flushStdio),
          Effect.andThen(Effect.fail(new ScanExitError({ exitCode: 2, reason: error.message })))
        )
      )
    )
    yield* Console.log(json ? formatJson(report) : formatText(report))
    yield* flushStdio
    if (report.unparsable.length > 0) {
      // an incomplete scan is not a pass, whatever the other files gave
      return yield* new ScanExitError({
        exitCode: 2,
        reason: summary(report.findings, report.filesScanned, report.unparsable)
      })
    }
    if (report.findings.length > 0) {
      return yield* new ScanExitError({ exitCode: 1, reason: summary(report.findings, report.filesScanned) })
    }
  })
