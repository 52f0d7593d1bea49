# W4 fetch-all: one aiohttp ClientSession (TCPConnector with a limit of 100 keep-alive connections), an
# asyncio.Semaphore(100) around each GET, asyncio.gather over all of them; each body read as text and parsed.
from pyrunner import bench, sum_in_order
import asyncio
import aiohttp


async def work(size, params):
    concurrency = params.get("concurrency", 100)
    base = f"http://127.0.0.1:{params['port']}"
    semaphore = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def fetch(i):
            async with semaphore:
                async with session.get(f"{base}/{i}") as response:
                    text = await response.text()
                    if response.status != 200:
                        raise RuntimeError(f"GET /{i}: status {response.status}")
                    return int(text)

        return sum_in_order(await asyncio.gather(*(fetch(i) for i in range(size))))


bench(work)
