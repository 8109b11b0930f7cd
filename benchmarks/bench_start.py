"""Cold start and engine memory, each beside a bare interpreter measured in the same run.

Run: `python benchmarks/bench_start.py [--runs N] [--json]`.

- Engine cold start: the local exchange is started first; then `hftui engine` is launched
  (a new process, numba kernels from the on-disk cache) and timed until it answers a command
  with every book synced (`bench_kill.engine_session`). Also `python -c "import hftui.app"`,
  the TUI's import cost. Baseline: `python -c pass`, median of N runs.
- Engine memory: VmRSS (/proc/PID/status) of that engine after warm-up (books synced and
  `--warm S` seconds of market data), beside the VmRSS of a bare `python` sleeping.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_kill import EngineSession, engine_session

IMPORT_APP: Final = "import hftui.app"


def interpreter_ms(code: str, runs: int) -> float:
    """Median wall ms of `python -c code` from launch to exit."""
    times = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append((time.perf_counter_ns() - start) / 1e6)
    return statistics.median(times)


def rss_mib(pid: int) -> float:
    """Resident set size of a process, from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def bare_python_rss_mib() -> float:
    """VmRSS of a bare interpreter that has started and is sleeping."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; print(flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        proc.stdout.readline()  # started
        return rss_mib(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def start_figures(runs: int) -> dict[str, float]:
    """The interpreter start-ups: bare, and importing the TUI."""
    return {
        "python_pass_ms": interpreter_ms("pass", runs),
        "import_app_ms": interpreter_ms(IMPORT_APP, runs),
    }


def memory(session: EngineSession, warm_s: float) -> dict[str, float]:
    """The engine's RSS after `warm_s` more seconds of market data, and a bare python's."""
    time.sleep(warm_s)
    return {"engine_mib": rss_mib(session.engine.pid), "python_mib": bare_python_rss_mib()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="interpreter starts to time")
    parser.add_argument("--warm", type=float, default=5.0, help="seconds before reading RSS")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result: dict[str, float] = start_figures(args.runs)
    with engine_session() as session:
        result["engine_listed_ms"] = session.listed_ms
        result["engine_ready_ms"] = session.ready_ms
        result.update(memory(session, args.warm))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"cold start (median of {args.runs}) and engine memory")
    print(f"{'python -c pass (baseline)':<40}{result['python_pass_ms']:>10.1f} ms")
    print(f"{'python -c ' + repr(IMPORT_APP):<40}{result['import_app_ms']:>10.1f} ms")
    print(f"{'hftui engine: launch to instance file':<40}{result['engine_listed_ms']:>10.1f} ms")
    print(f"{'hftui engine: launch to ready, synced':<40}{result['engine_ready_ms']:>10.1f} ms")
    print(f"{'engine RSS after warm-up':<40}{result['engine_mib']:>10.1f} MiB")
    print(f"{'bare python RSS (baseline)':<40}{result['python_mib']:>10.1f} MiB")


if __name__ == "__main__":
    main()
