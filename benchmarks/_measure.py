"""One measured metabase-guard operation, run in its own process (so its peak RSS is its own).

Usage: python benchmarks/_measure.py plan|apply DECLARATIONS_DIR URL API_KEY POOL
Prints one JSON line: timings (s), requests the client sent, planned changes, peak RSS (MiB).
"""

from __future__ import annotations

import json
import resource
import sys
import time


def run_op(op: str, folder: str, url: str, key: str, pool: int) -> dict[str, object]:
    """Plan (``op="plan"``) or plan and apply (``op="apply"``); the figures of the run."""
    started = time.perf_counter()
    # as the CLI does: the client and the read first, then the planner and the YAML while the
    # read is answered
    from metabase_guard.api.client import connect
    from metabase_guard.reconcile.live import read_ahead

    out: dict[str, object] = {}
    with connect(url, api_key=key, concurrency=pool) as client:
        reading = read_ahead(client)
        from metabase_guard import engine

        imported = time.perf_counter()
        out["import_s"] = imported - started
        declarations = engine.load([folder])
        loaded = time.perf_counter()
        out["load_s"] = loaded - imported
        result = engine.plan(declarations, client, reading=reading)
        planned = time.perf_counter()
        out.update(plan_s=planned - loaded, plan_requests=client.request_count,
                   changes=len(result.plan.changes))
        if op == "apply" and not result.plan.is_empty:
            before = client.request_count
            report = engine.apply(result, client, concurrency=pool, force=True)
            out.update(apply_s=time.perf_counter() - planned,
                       apply_requests=client.request_count - before, done=len(report.done))
        else:
            out.update(apply_s=0.0, apply_requests=0, done=0)
    out["total_s"] = time.perf_counter() - started
    return out


def main(argv: list[str]) -> int:
    out = run_op(argv[0], argv[1], argv[2], argv[3], int(argv[4]))
    out["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(out), flush=True)
    from metabase_guard._gc import freeze_before_exit

    freeze_before_exit()  # as the metabase-guard executable does (``cli.run``)
    return 0


def peak_rss_mib() -> float:
    """Peak resident set of this process (interpreter, imports, every decoded list, models).

    VmHWM from /proc: the high-water mark of this process's own address space. Not
    ``ru_maxrss``: Linux keeps that across ``execve``, so a child of the big benchmark process
    (which holds the sandbox) would report its parent's size.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
