# W5 memory: N asyncio tasks each awaiting asyncio.sleep(1), gathered.
from pyrunner import bench
import asyncio


async def work(size, params):
    seconds = params.get("sleepMs", 1000) / 1000
    tasks = [asyncio.create_task(asyncio.sleep(seconds)) for _ in range(size)]
    await asyncio.gather(*tasks)
    return size


bench(work)
