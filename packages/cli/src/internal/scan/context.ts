/**
 * @internal
 *
 * What every rule's visitor shares: the file, its module bindings, name resolution (aliases, shadowing, globals),
 * the scope a function body runs in (sync, an Effect body, an async body) and the `report` that records a finding.
 */
import ts from "typescript"
import type { Finding, FindingContext, RuleId } from "../../Scan.ts"
import type { ModuleKind, Named } from "./bindings.ts"
import { collectBindings, declaredNames, isAsyncFunction, requiredModule, skipOuter } from "./bindings.ts"
import { fixFor } from "./rules.ts"

export type Kind = "sync" | FindingContext

export interface Scope {
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

export const SYNC: Scope = { kind: "sync", calledNames: new Set(), onFiber: false }

/** Array methods that call their callback right away, on the caller's fiber. */
export const eagerCallbackMethods = new Set([
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

export const effectGeneratorHosts = new Set(["gen", "fn", "fnUntraced", "fnUntracedEager"])
export const MAX_CALL_TEXT = 100

export const memberName = (node: ts.Expression): string | undefined => {
  if (ts.isPropertyAccessExpression(node)) return node.name.text
  if (ts.isElementAccessExpression(node) && ts.isStringLiteralLike(node.argumentExpression)) {
    return node.argumentExpression.text
  }
  return undefined
}

export const collapse = (text: string): string => {
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

/** @internal */
export type Context = ReturnType<typeof makeContext>

/** One rule's visitor: called on each call, expression statement and loop that runs in an Effect or async body. */
export interface Visitor {
  readonly call?: (node: ts.CallExpression, kind: FindingContext) => void
  readonly statement?: (node: ts.ExpressionStatement, kind: FindingContext, onFiber: boolean) => void
  readonly loop?: (node: ts.IterationStatement, kind: FindingContext) => void
}

/** @internal */
export const makeContext = (sourceFile: ts.SourceFile, rules: ReadonlySet<RuleId>) => {
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

  return {
    sourceFile,
    bindings,
    findings,
    report,
    isGlobal,
    resolveCallee,
    effectMember,
    scopeOf
  }
}
