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
import statistics
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


def _env(**extra: str) -> dict[str, str]:
    """The environment of a measured process: this one's, with bytecode caching on.

    ``PYTHONDONTWRITEBYTECODE`` (set on some build machines) makes every process compile
    each module it imports from source again, a cost no installed tool pays: measured, about
    0.3 s of CPU per metabase-guard process. Both tools are measured with their caches.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra)
    return env


def measure(op: str, folder: Path, url: str, key: str, pool: int,
            *, in_process: bool = False) -> dict[str, Any]:
    """Run one operation, in a subprocess (peak RSS measured) or in process (tests)."""
    if in_process:
        from benchmarks._measure import run_op

        result = run_op(op, str(folder), url, key, pool)
        result["peak_rss_mib"] = None
        result["wall_s"] = result["total_s"]
        return result
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(HERE / "_measure.py"), op, str(folder), url, key, str(pool)],
        capture_output=True, text=True, check=False, cwd=ROOT,
        env=_env(PYTHONPATH=str(ROOT)),
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{op} failed:\n{proc.stderr[-3000:]}")
    data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    data["wall_s"] = wall  # the whole process, interpreter start-up included, as for a peer
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


TIMES = ("plan_s", "apply_s", "total_s", "wall_s", "load_s", "peak_rss_mib", "apply_ratio")

LISTING = """
import sys, time, requests
session = requests.Session()
session.trust_env = False
started = time.perf_counter()
body = session.get(sys.argv[1] + "/api/card", params={"f": "all"},
                   headers={"x-api-key": sys.argv[2]}).content
print(time.perf_counter() - started, len(body))
"""


def time_listing(url: str, key: str) -> dict[str, float]:
    """One ``GET /api/card?f=all`` from a fresh process: the request and its body, no decode.

    The one request a full read of the instance cannot avoid; plan is compared with it.
    """
    proc = subprocess.run([sys.executable, "-c", LISTING, url, key], capture_output=True,
                          text=True, check=True)
    seconds, size = proc.stdout.split()
    return {"listing_s": float(seconds), "listing_mb": int(size) / 1e6}


def time_validate(folder: Path) -> float:
    """``metabase-guard validate`` of the declarations, wall time of the whole process."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "metabase_guard", "validate", str(folder)],
                   capture_output=True, check=False, cwd=ROOT,
                   env=_env(PYTHONPATH=str(ROOT)))
    return time.perf_counter() - started


def _one_sequence(n: int, *, latency: float, pool: int, hand_cards: int, hand_alerts: int,
                  in_process: bool) -> dict[str, Any]:
    seeded = time.perf_counter()
    sb, hand_card_ids, hand_alert_ids = build_sandbox(hand_cards, hand_alerts)
    seed_s = time.perf_counter() - seeded
    rows: dict[str, Any] = {}
    extra: dict[str, Any] = {}
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
            if label == "plan, no change" and not in_process:
                # in the same state and the same minute as the plan it is compared with
                extra.update(time_listing(url, sb.admin_api_key))
                extra["validate_s"] = time_validate(folder)
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
    return {"seed_s": seed_s, "rows": rows, **extra}


def bench_guard(n: int, *, latency: float, pool: int, hand_cards: int, hand_alerts: int,
                in_process: bool = False, runs: int = 1) -> dict[str, Any]:
    """The five metabase-guard runs for one N, ``runs`` times on fresh instances."""
    return aggregate_guard(n, pool, [
        _one_sequence(n, latency=latency, pool=pool, hand_cards=hand_cards,
                      hand_alerts=hand_alerts, in_process=in_process)
        for _ in range(max(1, runs))])


def _min_median(values: list[float]) -> tuple[float, float]:
    return min(values), statistics.median(values)


def aggregate_guard(n: int, pool: int, sequences: list[dict[str, Any]]) -> dict[str, Any]:
    """One N's sequences as one result: counts of the first, min and median of each time.

    Counts are the same in every sequence (``sequences`` keeps them all); each time field is
    the minimum over the sequences, with the median beside it as ``<field>_median``. The card
    listing and ``validate`` are timed once per sequence, just before its "plan, no change".
    """
    rows: dict[str, Any] = {}
    for label, first in sequences[0]["rows"].items():
        row = dict(first)
        for name in TIMES:
            values = [s["rows"][label][name] for s in sequences
                      if s["rows"][label].get(name) is not None]
            if values:
                row[name], row[f"{name}_median"] = _min_median(values)
        rows[label] = row
    out: dict[str, Any] = {"n": n, "pool": pool, "runs": len(sequences),
                           "seed_s": sequences[0]["seed_s"], "rows": rows,
                           "sequences": sequences}
    for name in ("listing_s", "validate_s"):
        values = [s[name] for s in sequences if name in s]
        if values:
            out[name], out[f"{name}_median"] = _min_median(values)
    if "listing_mb" in sequences[0]:
        out["listing_mb"] = sequences[0]["listing_mb"]
    return out


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


def bench_sync(n: int, *, latency: float, hand_cards: int, hand_alerts: int,
               runs: int = 1) -> dict[str, Any]:
    """metabase-sync's plan/apply of the same N cards, ``runs`` times on fresh instances."""
    return aggregate_sync(n, [_sync_sequence(n, latency=latency, hand_cards=hand_cards,
                                             hand_alerts=hand_alerts)
                              for _ in range(max(1, runs))])


def aggregate_sync(n: int, sequences: list[dict[str, Any]]) -> dict[str, Any]:
    """As :func:`aggregate_guard`: the first sequence's counts, min and median wall time."""
    rows: dict[str, Any] = {}
    for label, first in sequences[0].items():
        row = dict(first)
        row["wall_s"], row["wall_s_median"] = _min_median([s[label]["wall_s"] for s in sequences])
        rows[label] = row
    return {"n": n, "runs": len(sequences), "rows": rows, "sequences": sequences}


def _sync_sequence(n: int, *, latency: float, hand_cards: int,
                   hand_alerts: int) -> dict[str, Any]:
    """metabase-sync's five runs of the same N cards (no alerts: it does not manage them)."""
    exe = ensure_metabase_sync()
    sb, _, _ = build_sandbox(hand_cards, hand_alerts)
    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mbsync-bench-") as tmp, served(sb, latency) as url:
        state = Path(tmp) / "state"
        write_sync_tree(state, n)
        env = {**_env(), "METABASE_URL": url, "METABASE_API_KEY": sb.admin_api_key,
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
    return rows


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


def _mm(row: dict[str, Any], name: str, spec: str = ".2f") -> str:
    """``min / median`` of a time field, or the value alone for one run."""
    if row.get(name) is None:
        return "-"
    median = row.get(f"{name}_median")
    if median is None or median == row[name]:
        return format(row[name], spec)
    return f"{format(row[name], spec)} / {format(median, spec)}"


def table(results: list[dict[str, Any]], latency: float, pool: int) -> str:
    """The Markdown table of metabase-guard's runs (times: min / median over the runs)."""
    runs = max((res.get("runs", 1) for res in results), default=1)
    out = [f"latency {latency * 1000:g} ms per request, apply pool {pool}, "
           f"{runs} run(s) each (times: min / median)", "",
           "| N | run | requests | writes | changed | plan s | apply s | ideal s | "
           "actual/ideal | total s | peak RSS MiB |",
           "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for res in results:
        for label, r in res["rows"].items():
            out.append(
                f"| {res['n']:,} | {label} | {r['server_requests']} | {r['writes']} | "
                f"{r['changes'] if r['changed_objects'] is None else r['changed_objects']} | "
                f"{_mm(r, 'plan_s')} | {_mm(r, 'apply_s')} | {r['ideal_apply_s']:.2f} | "
                f"{_mm(r, 'apply_ratio')} | {_mm(r, 'total_s')} | "
                f"{_mm(r, 'peak_rss_mib', '.0f')} |")
    return "\n".join(out)


def sync_table(guard: list[dict[str, Any]], sync: list[dict[str, Any]]) -> str:
    """metabase-sync next to metabase-guard (whole-process wall times), ratios sync / guard."""
    out = ["| N | run | guard requests | sync requests | guard wall s | sync wall s | "
           "sync/guard time | sync/guard requests | sync exit |",
           "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    by_n = {g["n"]: g for g in guard}
    for res in sync:
        g = by_n.get(res["n"])
        for label, r in res["rows"].items():
            gr = g["rows"][label] if g else None
            gw = gr.get("wall_s") if gr else None
            greq = gr["server_requests"] if gr else None
            out.append(
                f"| {res['n']:,} | {label} | {greq if greq is not None else '-'} | "
                f"{r['server_requests']} | {_mm(gr, 'wall_s') if gr else '-'} | "
                f"{_mm(r, 'wall_s')} | {_fmt(r['wall_s'] / gw if gw else None)} | "
                f"{_fmt(r['server_requests'] / greq if greq else None)} | {r['exit']} |")
    return "\n".join(out)


def goals_table(guard: list[dict[str, Any]], sync: list[dict[str, Any]]) -> str:
    """Per N: plan (no change) against one card listing and metabase-sync's plan; validate.

    Ratios are of minimums measured in the same sequences, so that the machine's load (shared
    by other jobs) weighs on both sides alike.
    """
    out = ["| N | card listing s | plan, no change: wall s | plan / listing | "
           "sync plan wall s | plan / sync plan | validate s | plan peak RSS MiB |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    by_n = {s["n"]: s for s in sync}
    for g in guard:
        plan = g["rows"]["plan, no change"]
        sp = by_n[g["n"]]["rows"]["plan, no change"] if g["n"] in by_n else None
        listing = g.get("listing_s")
        out.append(
            f"| {g['n']:,} | {_mm(g, 'listing_s')} | {_mm(plan, 'wall_s')} | "
            f"{_fmt(plan['wall_s'] / listing if listing else None)} | "
            f"{_mm(sp, 'wall_s') if sp else '-'} | "
            f"{_fmt(plan['wall_s'] / sp['wall_s'] if sp else None)} | "
            f"{_mm(g, 'validate_s')} | {_mm(plan, 'peak_rss_mib', '.0f')} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000,5000")
    parser.add_argument("--latency", type=float, default=0.03, help="seconds added per request")
    parser.add_argument("--pool", type=int, default=8, help="apply concurrency")
    parser.add_argument("--pools", default="",
                        help="also run each N with these apply pools, e.g. 12,16 (same run)")
    parser.add_argument("--runs", type=int, default=3,
                        help="sequences per N on fresh instances (min / median reported)")
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
    pools = [args.pool, *[int(p) for p in args.pools.split(",") if p.strip()]]
    facts = machine()
    print(f"machine: {facts}", file=sys.stderr)
    by_pool: dict[int, list[dict[str, Any]]] = {p: [] for p in pools}
    sync: list[dict[str, Any]] = []
    for n in sizes:
        guard_runs: dict[int, list[dict[str, Any]]] = {p: [] for p in pools}
        sync_runs: list[dict[str, Any]] = []
        for run in range(max(1, args.runs)):
            # interleaved, so that a change in the machine's load falls on every side alike
            for pool in pools:
                print(f"N={n} run {run + 1}: metabase-guard, pool {pool}...", file=sys.stderr,
                      flush=True)
                guard_runs[pool].append(_one_sequence(
                    n, latency=args.latency, pool=pool, hand_cards=args.hand_cards,
                    hand_alerts=args.hand_alerts, in_process=False))
            if args.with_metabase_sync:
                print(f"N={n} run {run + 1}: metabase-sync...", file=sys.stderr, flush=True)
                sync_runs.append(_sync_sequence(n, latency=args.latency,
                                                hand_cards=args.hand_cards,
                                                hand_alerts=args.hand_alerts))
        for pool in pools:
            by_pool[pool].append(aggregate_guard(n, pool, guard_runs[pool]))
        if sync_runs:
            sync.append(aggregate_sync(n, sync_runs))
    guard = by_pool[args.pool]
    print(table(guard, args.latency, args.pool))
    for pool in pools[1:]:
        print()
        print(table(by_pool[pool], args.latency, pool))
    print()
    print(goals_table(guard, sync))
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
                               "runs": args.runs, "hand_cards": args.hand_cards,
                               "hand_alerts": args.hand_alerts, "guard": guard,
                               "pools": {str(p): by_pool[p] for p in pools[1:]},
                               "sync": sync}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
