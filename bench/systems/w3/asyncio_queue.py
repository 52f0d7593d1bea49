# W3 queue: asyncio.Queue(maxsize=1000), one producer awaiting put() per item, 4 consumers awaiting get() and calling
# task_done() per item; one None sentinel per consumer ends them (asyncio.Queue.shutdown is 3.13+).
from pyrunner import bench
import asyncio


async def work(size, params):
    queue = asyncio.Queue(maxsize=params.get("capacity", 1000))
    n_consumers = params.get("consumers", 4)

    async def consumer():
        total = 0
        while True:
            item = await queue.get()
            queue.task_done()
            if item is None:
                return total
            total += item

    consumers = [asyncio.create_task(consumer()) for _ in range(n_consumers)]
    for i in range(size):
        await queue.put(i)
    for _ in range(n_consumers):
        await queue.put(None)
    return sum(await asyncio.gather(*consumers))


bench(work)
