/**
 * @internal
 *
 * Rules `orphaned-fiber` (a fork or `runFork` whose fiber nobody keeps) and `floating-promise` (a promise-returning
 * call used as a statement), in an Effect or async body.
 */
import ts from "typescript"
import type { FindingContext } from "../../Scan.ts"
import { skipOuter } from "./bindings.ts"
import type { Context, Visitor } from "./context.ts"
import { memberName } from "./context.ts"

const forkNames = new Set(["forkChild", "forkDetach", "fork", "forkDaemon"])

/** @internal */
export const fibersAndPromises = ({ bindings, effectMember, isGlobal, report, resolveCallee }: Context): Visitor => {
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

  return { statement: checkStatement }
}
