/**
 * @internal
 *
 * The analysis of one file: parse it, then walk it once, tracking the scope each function body runs in, and hand
 * every call, statement and loop of an Effect or async body to each rule's visitor.
 */
import ts from "typescript"
import type { Finding, RuleId, Unparsable } from "../../Scan.ts"
import { isFunctionDeclarationLike } from "./bindings.ts"
import { atomicsWait, blockingCalls } from "./blockingCalls.ts"
import { busyWait } from "./busyWait.ts"
import type { Scope, Visitor } from "./context.ts"
import { makeContext, SYNC } from "./context.ts"
import { fibersAndPromises } from "./fibersAndPromises.ts"

/** One visitor per rule family; each reports only the rules the scan asked for. */
const visitors = [blockingCalls, atomicsWait, busyWait, fibersAndPromises] as const

/** @internal */
export const scriptKindOf = (file: string): ts.ScriptKind => {
  if (file.endsWith(".tsx")) return ts.ScriptKind.TSX
  if (file.endsWith(".jsx")) return ts.ScriptKind.JSX
  if (file.endsWith(".js") || file.endsWith(".mjs") || file.endsWith(".cjs")) return ts.ScriptKind.JS
  return ts.ScriptKind.TS
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
export const analyzeFile = (
  fileName: string,
  text: string,
  rules: ReadonlySet<RuleId>
): Array<Finding> | Unparsable => {
  const sourceFile = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, scriptKindOf(fileName))
  return syntaxError(sourceFile) ?? analyzeSource(sourceFile, rules)
}

/** @internal */
export const analyze = (fileName: string, text: string, rules: ReadonlySet<RuleId>): Array<Finding> =>
  analyzeSource(ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, scriptKindOf(fileName)), rules)

const analyzeSource = (sourceFile: ts.SourceFile, rules: ReadonlySet<RuleId>): Array<Finding> => {
  const context = makeContext(sourceFile, rules)
  const active: ReadonlyArray<Visitor> = visitors.map((make) => make(context))
  const calls = active.flatMap((v) => v.call === undefined ? [] : [v.call])
  const statements = active.flatMap((v) => v.statement === undefined ? [] : [v.statement])
  const loops = active.flatMap((v) => v.loop === undefined ? [] : [v.loop])

  const visit = (node: ts.Node, scope: Scope): void => {
    if (isFunctionDeclarationLike(node)) {
      const inner = context.scopeOf(node, scope)
      ts.forEachChild(node, (child) => visit(child, inner))
      return
    }
    const kind = scope.kind
    if (kind !== "sync") {
      if (ts.isCallExpression(node)) { for (const check of calls) check(node, kind) }
      else if (ts.isExpressionStatement(node)) { for (const check of statements) check(node, kind, scope.onFiber) }
      else if (ts.isIterationStatement(node, false)) { for (const check of loops) check(node, kind) }
    }
    ts.forEachChild(node, (child) => visit(child, scope))
  }
  visit(sourceFile, SYNC)

  return context.findings.toSorted((a, b) => a.line - b.line || a.column - b.column || a.rule.localeCompare(b.rule))
}
