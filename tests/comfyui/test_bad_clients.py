"""Bad clients on a real ComfyUI: 200 open event streams, 20 slow-loris sockets and a trickled body do not starve
ComfyUI's own routes (GET /prompt, the UI page), the stream cap answers 429, the trickled body 408."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import time

API = "/batchgen/v1"
STREAMS = 200
SLOW_LORIS = 20
COMFY_ENV = {"BATCHGEN_MAX_STREAMS": str(STREAMS), "BATCHGEN_READ_TIMEOUT": "3"}


async def status_of(reader: asyncio.StreamReader) -> int:
    line = await asyncio.wait_for(reader.readline(), 15)
    return int(line.split()[1])


async def open_stream(port: int):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {API}/events/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
    return reader, writer, await status_of(reader)


async def slow_loris(port: int, stop: asyncio.Event) -> None:
    """Headers trickled one line a second, never finished."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /prompt HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode())
    try:
        while not stop.is_set():
            writer.write(b"X-Slow: 1\r\n")
            await writer.drain()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    except ConnectionError:
        pass
    finally:
        writer.close()


async def trickled_body(port: int) -> tuple[int, float]:
    """A JSON body announced as 100 kB and sent 10 bytes a second: answered 408 after BATCHGEN_READ_TIMEOUT."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"POST {API}/batches HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                 "Content-Length: 100000\r\n\r\n".encode())
    started = time.monotonic()

    async def trickle() -> None:
        try:
            while True:
                writer.write(b'{"prompts"'[:10])
                await writer.drain()
                await asyncio.sleep(1.0)
        except (ConnectionError, RuntimeError):
            pass

    task = asyncio.create_task(trickle())
    try:
        status = await status_of(reader)
    finally:
        task.cancel()
        writer.close()
    return status, time.monotonic() - started


def latencies(comfy, n: int, path: str = "/prompt") -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        status, _body, _ = comfy.request("GET", path, timeout=10)
        out.append(time.perf_counter() - started)
        assert status == 200
    return out


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


async def scenario(comfy) -> dict:
    port = comfy.port
    baseline = await asyncio.to_thread(latencies, comfy, 40)
    streams = await asyncio.gather(*(open_stream(port) for _ in range(STREAMS)))
    assert [s[2] for s in streams] == [200] * STREAMS
    _r, extra_writer, extra = await open_stream(port)  # the cap: one more is refused
    extra_writer.close()
    stop = asyncio.Event()
    loris = [asyncio.create_task(slow_loris(port, stop)) for _ in range(SLOW_LORIS)]
    body_task = asyncio.create_task(trickled_body(port))
    await asyncio.sleep(1.0)
    status, batch = await asyncio.to_thread(comfy.post, f"{API}/batches", {"template": "text-card", "prompts": ["a", "b", "c"],
                                                                           "params": {"width": 64, "height": 64}})
    assert status == 201, batch
    loaded = await asyncio.to_thread(latencies, comfy, 40)
    page = await asyncio.to_thread(latencies, comfy, 5, "/")
    body_status, body_seconds = await body_task
    await asyncio.to_thread(comfy.wait_batch, batch["id"], 120)

    async def saw_finish(reader: asyncio.StreamReader) -> bool:
        buffer = b""
        marker = f'"id":"{batch["id"]}"'.encode()
        try:
            async with asyncio.timeout(30):
                while not any(marker in f and b'"status":"succeeded"' in f and b"event: batchgen.batch" in f
                              for f in buffer.split(b"\n\n")):
                    buffer += await reader.read(65536)
        except TimeoutError:
            return False
        return True

    finished = await asyncio.gather(*(saw_finish(r) for r, _w, _s in streams))
    stop.set()
    await asyncio.gather(*loris, return_exceptions=True)
    for _r, writer, _s in streams:
        writer.close()
    return {"extra": extra, "baseline": baseline, "loaded": loaded, "page": page, "body": (body_status, body_seconds),
            "finished": finished}


def test_streams_and_slow_clients_do_not_starve_comfyui(comfy):
    result = asyncio.run(scenario(comfy))
    assert result["extra"] == 429
    assert all(result["finished"]), f"{result['finished'].count(False)} of {STREAMS} streams missed the batch's end"
    status, seconds = result["body"]
    assert status == 408 and seconds < 10
    base, loaded = result["baseline"], result["loaded"]
    sys.stderr.write(f"GET /prompt p50/p95 ms: idle {statistics.median(base) * 1000:.1f}/{p95(base) * 1000:.1f}, "
                     f"with {STREAMS} streams + {SLOW_LORIS} slow-loris + a running batch "
                     f"{statistics.median(loaded) * 1000:.1f}/{p95(loaded) * 1000:.1f}; UI page max {max(result['page']) * 1000:.1f}\n")
    assert statistics.median(loaded) < 0.1 and p95(loaded) < 0.5  # ComfyUI's own API stays responsive
    assert max(result["page"]) < 1.0
    assert comfy.get(f"{API}/health")["store"]["ready"]
