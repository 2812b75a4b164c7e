"""Benchmark metabase-guard (and, on demand, metabase-sync) against the sandbox over real HTTP.

    python benchmarks/run.py                       # N = 10, 100, 1000, 5000; 30 ms per request
    python benchmarks/run.py --sizes 10,100 --quick
    python benchmarks/run.py --with-metabase-sync  # also drive metabase-sync on the same sandbox

For each N the sandbox (``serve()``: a real threaded HTTP server) holds N declared questions'
worth of nothing, plus ``--hand-cards`` hand-made cards (default 20,000) and ``--hand-alerts``
hand-made alerts (default 2,000) made by another user without the marker. Then, with
``sandbox.latency`` seconds added to every request, it measures five runs of metabase-guard, each
in a fresh ``python`` subprocess (``benchmarks/_measure.py``) so that the peak RSS reported is
that of the metabase-guard side only:

    cold plan | apply (creates everything) | plan, no change | apply, no change | apply, 10% changed

Requests are counted twice: by the client (``request_count``) and by the sandbox's request log
(which also gives the writes per method). The hand-made objects are checked to be untouched.
Results go to stdout as a Markdown table and to ``--out`` as JSON.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from metabase_guard.sandbox import DEMO_SEED, Sandbox, load_seed  # noqa: E402
from metabase_guard.sandbox.core import nano_id  # noqa: E402
from metabase_guard.sandbox.server import serve  # noqa: E402

ANALYST_KEY = "mb_bench_analyst_key"
WRITES = ("POST", "PUT", "DELETE")
PER_FILE = 100  # questions per declaration file (files stay far below the 1 MiB limit)


# -- the instance --------------------------------------------------------------------------


def _post(sb: Sandbox, path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
    headers = {"x-api-key": key, "content-type": "application/json"}
    response = sb.handle("POST", path, {}, headers, json.dumps(body).encode())
    if response.status != 200:
        raise RuntimeError(f"seeding {path} failed: {response.status} {response.text[:300]}")
    data: dict[str, Any] = response.json()
    return data


def build_sandbox(hand_cards: int, hand_alerts: int) -> tuple[Sandbox, set[int], set[int]]:
    """A demo-seeded sandbox plus hand-made cards and alerts by another (non-admin) user.

    The fastest correct way: one card and one alert go through ``Sandbox.handle`` (in process,
    no HTTP, no latency), so they carry every field and side table Metabase's create would
    write; the rest are copies of those rows inserted straight into the store, each with its
    own id, name and entity id. Returns the sandbox and the ids of the hand-made cards and
    alerts.
    """
    seed = dict(load_seed(DEMO_SEED))
    seed["users"] = [*seed["users"], {"email": "analyst@example.com", "first_name": "Ana",
                                      "last_name": "Lyst", "api_key": ANALYST_KEY}]
    sb = Sandbox(seed=seed)
    store = sb.store
    card_ids: set[int] = set()
    alert_ids: set[int] = set()
    if hand_cards <= 0:
        return sb, card_ids, alert_ids
    folder = _post(sb, "/api/collection", {"name": "Team analyses"}, ANALYST_KEY)
    first = _post(sb, "/api/card", {
        "name": "Hand-made question 0", "display": "table", "visualization_settings": {},
        "collection_id": folder["id"], "description": "Made in the UI",
        "dataset_query": {"database": 1, "type": "native",
                          "native": {"query": "SELECT count(*) FROM recommendations"}},
    }, ANALYST_KEY)
    template = store.rows["cards"][first["id"]]
    card_ids.add(first["id"])
    for i in range(1, hand_cards):
        row = copy.deepcopy(template)
        del row["id"]
        row["name"] = f"Hand-made question {i}"
        row["entity_id"] = nano_id()
        card_ids.add(store.insert("cards", row)["id"])
    if hand_alerts <= 0:
        return sb, card_ids, alert_ids
    made = _post(sb, "/api/notification", {
        "payload_type": "notification/card",
        "payload": {"card_id": first["id"], "send_condition": "has_result"},
        "subscriptions": [{"type": "notification-subscription/cron",
                           "cron_schedule": "0 0 6 * * ? *"}],
        "handlers": [{"channel_type": "channel/email", "recipients": [
            {"type": "notification-recipient/raw-value",
             "details": {"value": "analyst@example.com"}}]}],
    }, ANALYST_KEY)
    alert_ids.add(made["id"])
    n0 = store.rows["notifications"][made["id"]]
    payload0 = store.rows["notification_cards"][n0["payload_id"]]
    subs0 = [r for r in store.all("subscriptions") if r["notification_id"] == n0["id"]]
    handlers0 = [r for r in store.all("handlers") if r["notification_id"] == n0["id"]]
    recipients0 = {h["id"]: [r for r in store.all("recipients")
                             if r["notification_handler_id"] == h["id"]] for h in handlers0}
    targets = sorted(card_ids)[1:hand_alerts]
    for card_id in targets:
        payload = dict(payload0, card_id=card_id)
        del payload["id"]
        payload_id = store.insert("notification_cards", payload)["id"]
        row = dict(n0, payload_id=payload_id)
        del row["id"]
        nid = store.insert("notifications", row)["id"]
        alert_ids.add(nid)
        for sub in subs0:
            copied = dict(sub, notification_id=nid)
            del copied["id"]
            store.insert("subscriptions", copied)
        for handler in handlers0:
            copied = dict(handler, notification_id=nid)
            del copied["id"]
            hid = store.insert("handlers", copied)["id"]
            for recipient in recipients0[handler["id"]]:
                r = copy.deepcopy(recipient)
                del r["id"]
                r["notification_handler_id"] = hid
                store.insert("recipients", r)
    return sb, card_ids, alert_ids


# -- the declarations ----------------------------------------------------------------------


def write_declarations(folder: Path, n: int, changed_share: float = 0.0) -> int:
    """N questions with one alert each, in files of 100; ``changed_share`` of them edited.

    An edited question has a new name and its alert a new time: two changed objects. Returns
    the number of changed objects.
    """
    for old in folder.glob("*.yaml"):
        old.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    every = round(1 / changed_share) if changed_share else 0
    changed = 0
    for start in range(0, n, PER_FILE):
        lines = ["questions:"]
        for i in range(start, min(n, start + PER_FILE)):
            edit = bool(every) and i % every == 0
            changed += 2 if edit else 0
            lines += [
                f"  - key: bench-{i:05d}",
                f"    name: Benchmark check {i}{' (edited)' if edit else ''}",
                f"    description: Health check number {i} of the benchmark.",
                f"    collection: Benchmarks/Group {i // 250:02d}",
                "    database: Warehouse",
                "    sql: |",
                "      SELECT count(*) AS recommendations",
                "      FROM recommendations",
                f"      WHERE id % 97 = {i % 97}",
                "    display: scalar",
                "    alerts:",
                "      - when: has_rows",
                f"        schedule: {{every: day, at: \"{'08:15' if edit else '07:30'}\"}}",
                "        email: [pm@example.com]",
            ]
        (folder / f"bench-{start // PER_FILE:03d}.yaml").write_text("\n".join(lines) + "\n")
    return changed


# -- measuring -----------------------------------------------------------------------------


def measure(op: str, folder: Path, url: str, key: str, pool: int,
            *, in_process: bool = False) -> dict[str, Any]:
    """Run one operation, in a subprocess (peak RSS measured) or in process (tests)."""
    if in_process:
        from benchmarks._measure import run_op

        result = run_op(op, str(folder), url, key, pool)
        result["peak_rss_mib"] = None
        return result
    proc = subprocess.run(
        [sys.executable, str(HERE / "_measure.py"), op, str(folder), url, key, str(pool)],
        capture_output=True, text=True, check=False, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{op} failed:\n{proc.stderr[-3000:]}")
    data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return data


def _log_counts(sb: Sandbox) -> Counter[str]:
    return Counter(r.method for r in sb.requests)


@contextmanager
def served(sb: Sandbox, latency: float) -> Iterator[str]:
    server = serve(sb)
    sb.latency = latency
    try:
        yield server.url
    finally:
        sb.latency = 0.0
        server.close()


def bench_guard(n: int, *, latency: float, pool: int, hand_cards: int, hand_alerts: int,
                in_process: bool = False) -> dict[str, Any]:
    """The five metabase-guard runs for one N; a dict of rows plus the invariant checks."""
    seeded = time.perf_counter()
    sb, hand_card_ids, hand_alert_ids = build_sandbox(hand_cards, hand_alerts)
    seed_s = time.perf_counter() - seeded
    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mg-bench-") as tmp, served(sb, latency) as url:
        folder = Path(tmp) / "alerts"
        write_declarations(folder, n)
        steps: list[tuple[str, str, float]] = [
            ("cold plan", "plan", 0.0),
            ("apply, create all", "apply", 0.0),
            ("plan, no change", "plan", 0.0),
            ("apply, no change", "apply", 0.0),
            ("apply, 10% changed", "apply", 0.1),
        ]
        for label, op, share in steps:
            changed = write_declarations(folder, n, share) if share else None
            sb.reset_log()
            result = measure(op, folder, url, sb.admin_api_key, pool, in_process=in_process)
            counts = _log_counts(sb)
            writes = sum(counts[m] for m in WRITES)
            result.update(server_requests=sum(counts.values()), writes=writes,
                          writes_by_method={m: counts[m] for m in WRITES if counts[m]},
                          changed_objects=changed)
            ideal = writes * latency / pool
            result["ideal_apply_s"] = ideal
            result["apply_ratio"] = (result["apply_s"] / ideal) if ideal else None
            bad = [r for r in sb.requests if r.method in WRITES and (
                (r.route == "/api/card/:id" and int(r.path.rsplit("/", 1)[1]) in hand_card_ids)
                or (r.route == "/api/notification/:id"
                    and int(r.path.rsplit("/", 1)[1]) in hand_alert_ids))]
            result["hand_made_touched"] = len(bad)
            rows[label] = result
    return {"n": n, "seed_s": seed_s, "rows": rows}


# -- metabase-sync ---------------------------------------------------------------------------

SYNC_VENV = Path(tempfile.gettempdir()) / "mbsync-venv"
SYNC_VERSION = "0.3.1"


def ensure_metabase_sync() -> Path:
    """``metabase-sync`` in its own venv under /tmp (created on first use); its executable."""
    exe = SYNC_VENV / "bin" / "metabase-sync"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(SYNC_VENV)], check=True)
        subprocess.run([str(SYNC_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        f"metabase-sync=={SYNC_VERSION}"], check=True)
    return exe


def write_sync_tree(state: Path, n: int, changed_share: float = 0.0) -> int:
    """The same N cards as metabase-sync's state tree (SQL with YAML front matter)."""
    cards = state / "collections" / "benchmarks" / "cards"
    cards.mkdir(parents=True, exist_ok=True)
    meta = state / "collections" / "benchmarks" / "_collection.yaml"
    if not meta.exists():
        meta.write_text("entity_id: null\nname: Benchmarks\ndescription: null\n"
                        "archived: false\nauthority_level: null\n")
    every = round(1 / changed_share) if changed_share else 0
    changed = 0
    for i in range(n):
        edit = bool(every) and i % every == 0
        changed += int(edit)
        path = cards / f"bench-{i:05d}.sql"
        front = path.read_text().split("---body---")[0] if path.exists() else (
            "---\nentity_id: null\n")
        head = [ln for ln in front.splitlines() if ln.startswith(("---", "entity_id"))][:2]
        body = "\n".join([
            *head,
            f"name: Benchmark check {i}{' (edited)' if edit else ''}",
            f"description: Health check number {i} of the benchmark.",
            "type: question", "display: scalar", "database: Warehouse", "parameters: []",
            "visualization_settings: {}", "enable_embedding: false", "embedding_params: null",
            "cache_ttl: null", "archived: false", "template_tags: {}", "---", "---body---",
            "SELECT count(*) AS recommendations FROM recommendations "
            f"WHERE id % 97 = {i % 97}", ""])
        path.write_text(body)
    return changed


def bench_sync(n: int, *, latency: float, hand_cards: int, hand_alerts: int) -> dict[str, Any]:
    """metabase-sync's plan/apply of the same N cards (no alerts: it does not manage them)."""
    exe = ensure_metabase_sync()
    sb, _, _ = build_sandbox(hand_cards, hand_alerts)
    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mbsync-bench-") as tmp, served(sb, latency) as url:
        state = Path(tmp) / "state"
        write_sync_tree(state, n)
        env = {**os.environ, "METABASE_URL": url, "METABASE_API_KEY": sb.admin_api_key,
               "STATE_DIR": str(state), "HTTP_MAX_RETRIES": "0"}
        steps = [("cold plan", ["plan", "--only", "cards"], 0.0),
                 ("apply, create all", ["apply", "--only", "cards"], 0.0),
                 ("plan, no change", ["plan", "--only", "cards"], 0.0),
                 ("apply, no change", ["apply", "--only", "cards"], 0.0),
                 ("apply, 10% changed", ["apply", "--only", "cards"], 0.1)]
        for label, args, share in steps:
            if share:
                write_sync_tree(state, n, share)
            sb.reset_log()
            started = time.perf_counter()
            proc = subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=tmp,
                                  env=env, check=False, stdin=subprocess.DEVNULL)
            wall = time.perf_counter() - started
            counts = _log_counts(sb)
            failed = sorted({f"{r.method} {r.route or r.path} -> {r.status}"
                             for r in sb.requests if r.status >= 400})
            rows[label] = {"wall_s": wall, "exit": proc.returncode,
                           "server_requests": sum(counts.values()),
                           "writes": sum(counts[m] for m in WRITES),
                           "failed_requests": failed,
                           "stderr_tail": proc.stderr[-600:] if proc.returncode not in (0, 2)
                           else ""}
    return {"n": n, "rows": rows}


# -- reporting -------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """nproc, memory, Python and platform."""
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "memory": mem, "python": platform.python_version(),
            "platform": platform.platform(), "processor": platform.processor() or "?"}


def _fmt(value: Any, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def table(results: list[dict[str, Any]], latency: float, pool: int) -> str:
    """The Markdown table of metabase-guard's runs."""
    out = [f"latency {latency * 1000:g} ms per request, apply pool {pool}", "",
           "| N | run | requests | writes | changed | plan s | apply s | ideal s | "
           "actual/ideal | total s | peak RSS MiB |",
           "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for res in results:
        for label, r in res["rows"].items():
            out.append(
                f"| {res['n']:,} | {label} | {r['server_requests']} | {r['writes']} | "
                f"{r['changes'] if r['changed_objects'] is None else r['changed_objects']} | "
                f"{r['plan_s']:.2f} | {r['apply_s']:.2f} | {r['ideal_apply_s']:.2f} | "
                f"{_fmt(r['apply_ratio'])} | {r['total_s']:.2f} | "
                f"{_fmt(r['peak_rss_mib'], '.0f')} |")
    return "\n".join(out)


def sync_table(guard: list[dict[str, Any]], sync: list[dict[str, Any]]) -> str:
    """metabase-sync next to metabase-guard, with ratios (sync / guard)."""
    out = ["| N | run | guard requests | sync requests | guard wall s | sync wall s | "
           "sync/guard time | sync/guard requests | sync exit |",
           "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    by_n = {g["n"]: g for g in guard}
    for res in sync:
        g = by_n.get(res["n"])
        for label, r in res["rows"].items():
            gr = g["rows"][label] if g else None
            gw = gr["total_s"] if gr else None
            greq = gr["server_requests"] if gr else None
            out.append(
                f"| {res['n']:,} | {label} | {greq if greq is not None else '-'} | "
                f"{r['server_requests']} | {_fmt(gw)} | {r['wall_s']:.2f} | "
                f"{_fmt(r['wall_s'] / gw if gw else None)} | "
                f"{_fmt(r['server_requests'] / greq if greq else None)} | {r['exit']} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000,5000")
    parser.add_argument("--latency", type=float, default=0.03, help="seconds added per request")
    parser.add_argument("--pool", type=int, default=8, help="apply concurrency")
    parser.add_argument("--hand-cards", type=int, default=20_000)
    parser.add_argument("--hand-alerts", type=int, default=2_000)
    parser.add_argument("--quick", action="store_true",
                        help="sizes 10,100 with 2,000 hand-made cards and 200 alerts")
    parser.add_argument("--with-metabase-sync", action="store_true",
                        help=f"also run metabase-sync {SYNC_VERSION} (installed under /tmp)")
    parser.add_argument("--out", default=str(HERE / "results" / "latest.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.hand_cards, args.hand_alerts = "10,100", 2_000, 200
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    facts = machine()
    print(f"machine: {facts}", file=sys.stderr)
    guard: list[dict[str, Any]] = []
    sync: list[dict[str, Any]] = []
    for n in sizes:
        print(f"N={n}: metabase-guard...", file=sys.stderr, flush=True)
        guard.append(bench_guard(n, latency=args.latency, pool=args.pool,
                                 hand_cards=args.hand_cards, hand_alerts=args.hand_alerts))
        if args.with_metabase_sync:
            print(f"N={n}: metabase-sync...", file=sys.stderr, flush=True)
            sync.append(bench_sync(n, latency=args.latency, hand_cards=args.hand_cards,
                                   hand_alerts=args.hand_alerts))
    print(table(guard, args.latency, args.pool))
    if sync:
        print()
        print(sync_table(guard, sync))
        for res in sync:
            for label, r in res["rows"].items():
                if r["failed_requests"] or r["stderr_tail"]:
                    print(f"\nmetabase-sync N={res['n']} {label}: failed requests "
                          f"{r['failed_requests']}\n{r['stderr_tail']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": facts, "latency": args.latency, "pool": args.pool,
                               "hand_cards": args.hand_cards, "hand_alerts": args.hand_alerts,
                               "guard": guard, "sync": sync}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
