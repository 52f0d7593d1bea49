// W1 gather: Promise.all over N async functions that return their input.
import { bench, range, sumInOrder } from "../../runner.ts"

const task = async (i: number): Promise<number> => i

bench(async ({ size }) => sumInOrder(await Promise.all(range(size).map(task))))
