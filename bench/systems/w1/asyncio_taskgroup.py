# W1 gather: asyncio.TaskGroup (Python 3.11+) with N create_task calls; results read in spawn order.
from pyrunner import bench, sum_in_order
import asyncio


async def task(i):
    return i


async def work(size, params):
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(task(i)) for i in range(size)]
    return sum_in_order([t.result() for t in tasks])


bench(work)
