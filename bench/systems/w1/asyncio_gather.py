# W1 gather: asyncio.gather over N coroutines that return their input (each wrapped in a Task by gather).
from pyrunner import bench, sum_in_order
import asyncio


async def task(i):
    return i


async def work(size, params):
    return sum_in_order(await asyncio.gather(*(task(i) for i in range(size))))


bench(work)
