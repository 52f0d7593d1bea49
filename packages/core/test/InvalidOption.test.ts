import { describe, expect, it } from "@effect/vitest"
import { Duration, Result } from "effect"
import * as InvalidOption from "../src/InvalidOption.ts"

const failure = <A>(check: InvalidOption.Check<A>): InvalidOption.InvalidOptionError => {
  if (Result.isSuccess(check)) throw new Error(`expected a failure, got ${String(check.success)}`)
  return check.failure
}

describe("InvalidOption", () => {
  it("int accepts safe integers within bounds and names the option and the bounds otherwise", () => {
    expect(Result.getOrThrow(InvalidOption.int("M", "n", 3, { min: 1 }))).toBe(3)
    expect(Result.getOrThrow(InvalidOption.int("M", "n", Infinity, { min: 0, orInfinity: true }))).toBe(Infinity)
    expect(failure(InvalidOption.int("M", "n", 0, { min: 1 })).message).toBe(
      "M: option n must be an integer >= 1 (got 0)"
    )
    expect(failure(InvalidOption.int("M", "n", 1.5, { min: 1 })).expected).toBe("an integer >= 1")
    expect(failure(InvalidOption.int("M", "n", Infinity, { min: 1 })).expected).toBe("an integer >= 1")
    expect(failure(InvalidOption.int("M", "port", 70000, { min: 0, max: 65535 })).expected).toBe(
      "an integer from 0 to 65535"
    )
    expect(failure(InvalidOption.int("M", "n", "3", { min: 0, orInfinity: true })).expected).toBe(
      "an integer >= 0 or Infinity"
    )
  })

  it("number checks finiteness and inclusive or exclusive bounds", () => {
    expect(Result.getOrThrow(InvalidOption.number("M", "r", 1, { min: 0, max: 1 }))).toBe(1)
    expect(failure(InvalidOption.number("M", "r", 1, { min: 0, max: 1, exclusiveMax: true })).expected).toBe(
      "a number in [0, 1)"
    )
    expect(failure(InvalidOption.number("M", "p", 0, { min: 0, exclusiveMin: true, max: 100 })).expected).toBe(
      "a number in (0, 100]"
    )
    expect(failure(InvalidOption.number("M", "x", Number.NaN, { min: 0 })).expected).toBe("a finite number >= 0")
    expect(failure(InvalidOption.number("M", "x", Infinity, { min: 0 })).option).toBe("x")
  })

  it("concurrency reads undefined, \"unbounded\" and Infinity as no limit", () => {
    for (const value of [undefined, "unbounded", Infinity]) {
      expect(Result.getOrThrow(InvalidOption.concurrency("M", value))).toBe(Infinity)
    }
    expect(Result.getOrThrow(InvalidOption.concurrency("M", 4))).toBe(4)
    const error = failure(InvalidOption.concurrency("M", 0, "capacity"))
    expect(error.option).toBe("capacity")
    expect(error.expected).toBe("an integer >= 1 or \"unbounded\"")
  })

  it("duration decodes inputs and rejects NaN, negative, unparsable, zero when exclusive, infinite when finite", () => {
    expect(Duration.toMillis(Result.getOrThrow(InvalidOption.duration("M", "d", "2 seconds")))).toBe(2000)
    expect(Duration.isFinite(Result.getOrThrow(InvalidOption.duration("M", "d", Infinity)))).toBe(false)
    expect(failure(InvalidOption.duration("M", "d", -1)).expected).toBe("a duration >= 0")
    expect(failure(InvalidOption.duration("M", "d", Number.NaN)).option).toBe("d")
    expect(failure(InvalidOption.duration("M", "d", "soon" as Duration.Input)).value).toBe("soon")
    expect(failure(InvalidOption.duration("M", "d", undefined)).expected).toBe("a duration >= 0")
    expect(failure(InvalidOption.duration("M", "d", 0, { exclusive: true, finite: true })).expected).toBe(
      "a finite duration > 0"
    )
    expect(failure(InvalidOption.duration("M", "d", Infinity, { finite: true })).expected).toBe(
      "a finite duration >= 0"
    )
    expect(failure(InvalidOption.duration("M", "ttl", 5, { min: 10, finite: true })).expected).toBe(
      "a finite duration >= 10 ms"
    )
  })

  it("oneOf lists the choices; check takes any predicate and its own wording", () => {
    expect(Result.getOrThrow(InvalidOption.oneOf("M", "o", "lifo", ["fifo", "lifo"]))).toBe("lifo")
    expect(failure(InvalidOption.oneOf("M", "o", "x", ["fifo", "lifo", "priority"])).expected).toBe(
      "\"fifo\", \"lifo\" or \"priority\""
    )
    expect(failure(InvalidOption.oneOf("M", "status", 500, [503, 504])).expected).toBe("503 or 504")
    const name = InvalidOption.check("M", "name", "", (u) => typeof u === "string" && u !== "", "a non-empty string")
    expect(failure(name).message).toBe("M: option name must be a non-empty string (got \"\")")
  })
})
