/**
 * @internal
 *
 * Rules `blocking-fs`, `blocking-child-process`, `blocking-crypto`, `blocking-zlib` (a `...Sync` call of those modules,
 * through any alias) and `atomics-wait` (`Atomics.wait`), in an Effect or async body.
 */
import ts from "typescript"
import type { FindingContext } from "../../Scan.ts"
import { ruleOfModule, skipOuter } from "./bindings.ts"
import type { Context, Visitor } from "./context.ts"

/** @internal */
export const blockingCalls = ({ report, resolveCallee }: Context): Visitor => ({
  call: (node: ts.CallExpression, kind: FindingContext) => {
    const callee = resolveCallee(node.expression)
    if (callee !== undefined && callee.name.endsWith("Sync")) {
      const rule = ruleOfModule(callee.module)
      if (rule !== undefined) report(node, rule, callee.name, kind)
    }
  }
})

/** @internal */
export const atomicsWait = ({ isGlobal, report }: Context): Visitor => ({
  call: (node: ts.CallExpression, kind: FindingContext) => {
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
})
