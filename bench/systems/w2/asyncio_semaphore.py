# W2 bounded: asyncio.Semaphore(100) inside every coroutine, asyncio.gather over all of them; each task awaits one
# event-loop iteration (asyncio.sleep(0)), the twin of setImmediate.
from pyrunner import bench, sum_in_order
import asyncio


async def work(size, params):
    semaphore = asyncio.Semaphore(params.get("concurrency", 100))

    async def task(i):
        async with semaphore:
            await asyncio.sleep(0)
            return i

    return sum_in_order(await asyncio.gather(*(task(i) for i in range(size))))


bench(work)
