"""h2load as a unary gRPC load generator (Debian nghttp2-client).

It spends ~51 µs of CPU per call against ~290 µs for a Python grpc client, so
on a small machine the server, not the client, is what is measured. It sends
one fixed, pre-encoded gRPC frame and counts every HTTP 200 as a success
whatever the grpc-status: callers verify the answers another way (the
server's decision counters, a sampled client call).
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def available() -> bool:
    return shutil.which("h2load") is not None


def grpc_frame(message: bytes) -> bytes:
    """A length-prefixed gRPC message: uncompressed flag, 4-byte length, bytes."""
    return b"\x00" + struct.pack(">I", len(message)) + message


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


@dataclass
class H2Result:
    requests: int  # sent
    succeeded: int  # HTTP 200 (not a grpc-status)
    calls_per_s: float
    p50_ms: float
    p99_ms: float


def run(
    url: str,
    frame: bytes,
    *,
    requests: int,
    clients: int = 4,
    streams: int = 16,
    threads: int = 1,
) -> H2Result:
    """POST `frame` to url `requests` times over `clients` connections with
    `streams` in flight on each; latencies from h2load's per-request log."""
    with tempfile.TemporaryDirectory(prefix="h2load-") as tmp:
        data, log = Path(tmp, "frame"), Path(tmp, "log")
        data.write_bytes(frame)
        out = subprocess.run(
            ["h2load", "-n", str(requests), "-c", str(clients), "-m", str(streams),
             "-t", str(threads), "-d", str(data), "--log-file", str(log),
             "-H", "content-type: application/grpc", "-H", "te: trailers", url],
            capture_output=True, text=True, timeout=600, check=True,
        ).stdout
        latencies = sorted(
            int(parts[2]) for parts in (line.split("\t") for line in log.read_text().splitlines())
            if len(parts) >= 3 and parts[1] == "200"
        )
    done = re.search(r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded", out)
    rate = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", out)
    if not (done and rate):
        raise RuntimeError(f"cannot read h2load's output:\n{out}")
    n = len(latencies)
    return H2Result(
        requests=int(done.group(1)),
        succeeded=int(done.group(2)),
        calls_per_s=float(rate.group(1)),
        p50_ms=latencies[n // 2] / 1000 if n else float("nan"),
        p99_ms=latencies[min(n - 1, int(n * 0.99))] / 1000 if n else float("nan"),
    )
