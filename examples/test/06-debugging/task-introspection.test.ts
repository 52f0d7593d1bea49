import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../06-debugging/task-introspection.ts"
import { runLiveExample } from "../03-http/runLive.ts"

it.live("06-debugging/task-introspection lists live supervised and task-group tasks over GET /debug/tasks", () =>
  Effect.gen(function*() {
    expect(yield* runLiveExample(program)).toEqual([
      "-- GET /debug/tasks (during a crawl): 200, 4 task(s)",
      "  consumer                 Supervisor background running    age 125 s",
      "  mailer                   Supervisor background restarting age 35 s",
      "  fetch https://a.example  TaskGroup crawler    running    age 5 s",
      "  fetch https://b.example  TaskGroup crawler    running    age 5 s",
      "-- GET /debug/tasks (crawl done, mailer stopped): 200, 1 task(s)",
      "  consumer                 Supervisor background running    age 125 s"
    ])
  }))
