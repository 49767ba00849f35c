"""authzd benchmark: CheckAccess against its references, side by side, in one run.

    python -m scripts.bench            # full run (about 13 minutes on 2 cores)
    python -m scripts.bench --quick    # every scenario, small and short (CI)
    python -m scripts.bench --only h2load unary   # some scenarios

Run from the repository root, with authzd installed (`pip install -e '.[test]'`).
It builds its fixtures itself (a bulk loader through the store), starts every
server it measures on loopback as a real `authzd serve` process, drives them with
grpc.aio load-generator processes (or h2load) for a bounded time, and prints one
table: each scenario's throughput, p50/p99 and the ratio against its reference
measured in the same run. Figures are also written as JSON (--out). Unary
comparisons run in interleaved rounds and report medians, because the machine is
noisy.

Exit status is non-zero only when answers disagree (a correctness failure), never
because of speed: CI runs --quick so the benchmark cannot rot.

One module a scenario (its `run(ctx)` returns its rows); common.py holds the
fixture, the load results and the rows, procs.py starts processes, and load.py,
noop.py and upstream.py are the child processes (`python -m scripts.bench.load`).
"""
