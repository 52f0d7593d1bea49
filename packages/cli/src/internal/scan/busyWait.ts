/**
 * @internal
 *
 * Rule `busy-wait`: a loop whose condition reads the clock (`Date.now()`, `performance.now()`) and whose body only
 * spins, in an Effect or async body.
 */
import ts from "typescript"
import type { FindingContext } from "../../Scan.ts"
import { skipOuter } from "./bindings.ts"
import type { Context, Visitor } from "./context.ts"
import { memberName } from "./context.ts"

/** @internal */
export const busyWait = ({ isGlobal, report, sourceFile }: Context): Visitor => {
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

  return { loop: checkLoop }
}
