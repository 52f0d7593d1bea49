/**
 * The root runner: parses the arguments with `effect/cli`, reports bad input in one line on stderr (no help dump,
 * no stack trace) and turns every ending into an exit code.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import { CliOutput, Command } from "effect/cli"
import type { CliError } from "effect/cli"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"

/** @internal */
export const EXIT_OK = 0
/** @internal */
export const EXIT_FAILURE = 1
/** @internal */
export const EXIT_USAGE = 2

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, " ").trim()

const errorText = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string") {
    return oneLine(error.message)
  }
  return oneLine(String(error))
}

const presenter = (name: string): CliOutput.Presenter => ({
  present: (event) => {
    if (event._tag !== "InvalidInvocation") return CliOutput.defaultPresenter.present(event)
    const path = event.commandPath.length > 0 ? event.commandPath.join(" ") : name
    const first = event.errors[0]
    return Effect.sync(() => {
      process.stderr.write(
        `${path}: ${first === undefined ? "invalid arguments" : errorText(first)} (see ${path} --help)\n`
      )
    })
  }
})

/**
 * Joins `--flag -5s` into `--flag=-5s`: a value that starts with `-` and a digit is a negative number or duration
 * (no flag of ours starts with a digit), but the parser would take it for a flag and report "Missing value"; joined,
 * the command's own check names the flag and the value.
 *
 * @internal
 */
export const joinNegativeValues = (args: ReadonlyArray<string>): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    const next = args[i + 1]
    if (arg.startsWith("--") && arg.length > 2 && !arg.includes("=") && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`)
      i++
    } else {
      out.push(arg)
    }
  }
  return out
}

/** @internal */
export const run = <Name extends string, Input, E, R, CI>(
  command: Command.Command<Name, Input, CI, E, R>,
  args: ReadonlyArray<string>,
  version: string
) =>
  Command.runWith(command, { version })(joinNegativeValues(args)).pipe(
    Effect.provideService(CliOutput.Presenter, presenter(command.name)),
    Effect.exit,
    Effect.map((exit): number => {
      if (Exit.isSuccess(exit)) return EXIT_OK
      const cause = exit.cause
      const failure = Cause.findErrorOption(cause)
      if (failure._tag === "Some") {
        const error = failure.value as unknown as { readonly _tag?: string } & Partial<CliError.ShowHelp>
        const tag = error._tag
        if (tag === "ShowHelp") return (error.errors?.length ?? 0) > 0 ? EXIT_USAGE : EXIT_OK
        if (tag === "UsageError") {
          process.stderr.write(`${command.name}: ${errorText(error)}\n`)
          return EXIT_USAGE
        }
        if (tag === "StoppedError") {
          process.stderr.write(`${command.name}: ${errorText(error)}\n`)
          return (error as unknown as { readonly exitCode: number }).exitCode
        }
        const code = (error as { readonly [Runtime.errorExitCode]?: unknown })[Runtime.errorExitCode]
        const reported = Runtime.getErrorReported(error)
        if (reported) process.stderr.write(`${command.name}: ${errorText(error)}\n`)
        return typeof code === "number" ? code : EXIT_FAILURE
      }
      if (Cause.hasInterruptsOnly(cause)) return 130
      process.stderr.write(`${command.name}: unexpected error: ${errorText(Cause.squash(cause))}\n`)
      return EXIT_FAILURE
    })
  )
