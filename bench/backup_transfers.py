"""The backup transfers' rows of the benchmark (bench/README.md, "Backup transfers"), run by
bench/run.py: backup_transfers_fs (payloads in a folder, the default) and backup_transfers_s3
(an S3 bucket: SeaweedFS, testing.seaweedfs). Each row, on its storage:

- uploads of 100 MiB and 1 GiB (1 GiB skipped under BENCH_QUICK) through the app as the
  mobile client sends them with tus: a POST, then PATCHes of 8 MiB with Upload-Offset over one
  keep-alive connection; downloads of them (GET /api/sync/backup/<id>/download, streamed);
  MiB/s and how far the busiest worker's peak RSS (VmHWM) rose above where it stood. Against
  the limit: the same bytes written straight to the same storage and read straight back by a
  process on the servers' CPU (a file in the same folder, written 8 MiB at a time and fsync'd
  once; on S3 a multipart upload of 8 MiB parts, one at a time, to the same bucket, and a GET
  read as the app reads). App and limit alternate (A B, B A, ...), run.RUNS times;
- 50 concurrent uploads of 20 MiB, one user each: errors, and busy answers (503/429 with
  Retry-After) waited out and retried, as a tus client does;
- then 10 s with no traffic: every worker's RSS against its idle level.

The app is gunicorn with gunicorn.conf.py and two workers, as on a 2-core box, pinned to the
servers' CPU, with BACKUP_KEEP=1 (every upload prunes the previous one, so the disk holds one
payload per user) and the production transfer limits. The client
(bench/backup_client.py) runs in a process of its own on the load CPU, the limit in one on the
servers' CPU.
"""

import collections
import contextlib
import tempfile
import time
import uuid
from functools import partial
from pathlib import Path

from bench import events, run
from bench.backup_client import MIB

SIZES = [100 * MIB] + ([] if run.QUICK else [1024 * MIB])
CONCURRENT_UPLOADS = 50
CONCURRENT_BYTES = 20 * MIB
# As many as the workers' threads (gunicorn.conf.py: 8 each), so that each thread has served
# a transfer before the idle level is taken.
WARM_UPLOADS = 16
WARM_ROUNDS = (3, 8)  # at least, at most
WARM_GROWTH_MIB = 8
SETTLE_SECONDS = 10
WORKERS = 2
# The goals (the issue): the app at 0.8 of the limit's MiB/s or more, a worker's peak growth at
# most 32 MiB whatever the size, every worker back within 64 MiB of its idle RSS 10 s after.
RATIO_GOAL = 0.8
GROWTH_GOAL_MIB = 32
SETTLE_GOAL_MIB = 64
PORTS = {"fs": 3841, "s3": 3842}
ROWS = ("backup_transfers_fs", "backup_transfers_s3")


def measure(env: dict, seed: dict) -> dict:
    """The rows BENCH_ONLY selects (all of them when it is empty)."""
    return {
        row: transfers(env, seed, row.rsplit("_", 1)[1]) for row in ROWS if not run.ONLY or row in run.ONLY
    }


def spawn(mode: str, cpu: str, spec: dict):
    """bench/backup_client.py in a process of its own on `cpu`, as `mode` (client or limit)."""
    return events.client(mode, spec, module="bench.backup_client", cpu=cpu)


def ask(process: events.Client, **command) -> dict:
    process.send(command)
    return process.answer()


def watched(workers: list[int], call) -> tuple[dict, float]:
    """`call()`'s answer, and how far the busiest worker's peak RSS rose during it (MiB)."""
    before = {}
    for pid in workers:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM back to the current VmRSS
        before[pid] = run.status_kib(pid, "VmRSS")
    answer = call()
    return answer, max(run.status_kib(pid, "VmHWM") - before[pid] for pid in workers) / 1024


def transfers(env: dict, seed: dict, storage: str) -> dict:
    tokens = seed["transfer_tokens"]
    with contextlib.ExitStack() as stack:
        if storage == "s3":
            from testing.seaweedfs import seaweedfs

            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="persona-seaweedfs-"))
            variables = dict(stack.enter_context(seaweedfs(Path(scratch))))
            limit_spec = {"storage": "s3", "variables": variables}
        else:
            variables = {}
            limit_spec = {"storage": "fs", "directory": str(run.PAYLOADS / "bench-limit")}
        server_env = {**env, **variables, "WEB_CONCURRENCY": str(WORKERS), "BACKUP_KEEP": "1"}
        server = stack.enter_context(run.start(f"backups-{storage}", server_env, PORTS[storage]))
        client = stack.enter_context(spawn("client", run.LOAD_CPU, {"port": server.port}))
        limit = stack.enter_context(spawn("limit", run.SERVER_CPU, limit_spec))
        workers = server.pids()[1:]
        ask(client, do="prepare", sizes=[*SIZES, CONCURRENT_BYTES])
        ask(limit, do="prepare")
        cold, idle, rounds = warmed(client, workers, tokens[:WARM_UPLOADS])
        result = {
            "storage": storage,
            "workers": len(workers),
            "cold_rss_mib": cold,
            "idle_rss_mib": idle,
            "warm_rounds": rounds,
            "sizes": {},
        }
        for size in SIZES:
            result["sizes"][size] = sequential(client, limit, workers, tokens[0], size)
        uploads = partial(
            ask, client, do="concurrent", tokens=tokens[:CONCURRENT_UPLOADS], size=CONCURRENT_BYTES
        )
        many, growth = watched(workers, uploads)
        result["concurrent"] = {**many, "size": CONCURRENT_BYTES, "peak_growth_mib": growth}
        result["settle"] = settle(workers, idle)
        run.log(summary(result))
        for index, backup_id in enumerate(many["backup_ids"]):
            if backup_id:
                run.call(
                    server.port, "DELETE", f"/api/sync/backup/{backup_id}", headers=bearer(tokens[index])
                )
    return result


def warmed(client, workers: list[int], tokens: list[str]) -> tuple[dict, dict, int]:
    """Each worker's RSS (MiB) before any transfer and once it has served transfers (its idle
    level), and the rounds that took: rounds of small concurrent uploads until the last grew no
    worker by more than WARM_GROWTH_MIB. Which worker and thread take a request is the kernel's
    and gunicorn's choice, and on S3 a worker's first transfer imports boto3 and each thread's
    first builds a boto3 session of its own (django-storages keeps one per thread), some 13 MiB
    each: a cost paid once per thread, not per transfer."""
    cold = rss = {pid: run.status_kib(pid, "VmRSS") / 1024 for pid in workers}
    least, most = WARM_ROUNDS
    for number in range(1, most + 1):
        warm = ask(client, do="concurrent", tokens=tokens, size=MIB)
        assert warm["completed"] == len(tokens), warm
        time.sleep(1)
        before, rss = rss, {pid: run.status_kib(pid, "VmRSS") / 1024 for pid in workers}
        if number >= least and all(rss[pid] - before[pid] <= WARM_GROWTH_MIB for pid in workers):
            break
    return cold, rss, number


def sequential(client, limit, workers: list[int], token: str, size: int) -> dict:
    """Uploads and downloads of `size` through the app and straight to storage, alternating."""
    entry = {"app": collections.defaultdict(list), "limit": collections.defaultdict(list)}
    for number in range(run.RUNS):
        for who in ("app", "limit") if number % 2 == 0 else ("limit", "app"):
            if who == "limit":
                key = f"bench-limit-{uuid.uuid4()}"
                entry["limit"]["upload"].append(ask(limit, do="write", key=key, size=size)["seconds"])
                read = ask(limit, do="read", key=key)
                assert read["received"] == size, read
                entry["limit"]["download"].append(read["seconds"])
                ask(limit, do="delete", key=key)
                continue
            sent, growth = watched(workers, partial(ask, client, do="upload", token=token, size=size))
            assert sent["ok"], sent
            entry["app"]["upload"].append(sent["seconds"])
            entry["app"]["upload_growth_mib"].append(growth)
            entry["app"]["last_patch_seconds"].append(sent["last_patch_seconds"])
            backup_id = sent["backup_id"]
            received, growth = watched(
                workers, partial(ask, client, do="download", token=token, backup_id=backup_id, size=size)
            )
            assert received["ok"], received
            entry["app"]["download"].append(received["seconds"])
            entry["app"]["download_growth_mib"].append(growth)
    for kind in ("upload", "download"):
        app, limit_ = (size / MIB / run.median(entry[who][kind]) for who in ("app", "limit"))
        entry[kind] = {
            "app_mib_per_s": app,
            "limit_mib_per_s": limit_,
            "ratio": app / limit_,
            "peak_growth_mib": max(entry["app"][f"{kind}_growth_mib"]),
        }
    entry["last_patch_seconds"] = run.median(entry["app"]["last_patch_seconds"])
    run.log(
        f"{size // MIB} MiB: "
        + ", ".join(
            f"{kind} app {figures['app_mib_per_s']:.0f} / limit {figures['limit_mib_per_s']:.0f} MiB/s"
            f" ({figures['ratio']:.2f}x) +{figures['peak_growth_mib']:.0f} MiB"
            for kind, figures in ((kind, entry[kind]) for kind in ("upload", "download"))
        )
    )
    return entry


def settle(workers: list[int], idle: dict) -> dict:
    """Each worker's RSS every second for SETTLE_SECONDS with no traffic (MiB)."""
    started = time.monotonic()
    samples = []
    for second in range(SETTLE_SECONDS + 1):
        time.sleep(max(0.0, started + second - time.monotonic()))
        samples.append({pid: run.status_kib(pid, "VmRSS") / 1024 for pid in workers})
    result = {}
    for pid in workers:
        within = [n for n, sample in enumerate(samples) if sample[pid] - idle[pid] <= SETTLE_GOAL_MIB]
        result[pid] = {
            "idle": idle[pid],
            "samples": [sample[pid] for sample in samples],
            "back_after_seconds": within[0] if within else None,
        }
    return result


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def summary(result: dict) -> str:
    many = result["concurrent"]
    return (
        f"backup_transfers_{result['storage']}: {many['completed']}/{many['uploads']} concurrent uploads,"
        f" {len(many['errors'])} errors, {many['retries']} retried, {many['drops']} dropped,"
        f" +{many['peak_growth_mib']:.0f} MiB; RSS after 10 s "
        + ", ".join(f"{w['samples'][-1]:.0f} (idle {w['idle']:.0f}) MiB" for w in result["settle"].values())
    )


def markdown(report: dict) -> str:
    """The backup transfers' tables, for the rows the report holds."""
    lines = []
    for row in ROWS:
        if not (result := report.get(row)):
            continue
        lines += [
            "",
            f"Backup transfers on {'S3 (SeaweedFS)' if result['storage'] == 's3' else 'the filesystem'},"
            f" {result['workers']} workers; MiB/s medians of {run.RUNS} runs, app and limit alternating:",
            "",
            f"| transfer | app MiB/s | limit MiB/s | app ÷ limit (goal ≥ {RATIO_GOAL}) "
            f"| worker peak growth (goal ≤ {GROWTH_GOAL_MIB} MiB) | last PATCH s |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for size, entry in result["sizes"].items():
            label = (
                f"{int(size) // MIB} MiB" if int(size) < 1024 * MIB else f"{int(size) // (1024 * MIB)} GiB"
            )
            for kind in ("upload", "download"):
                figures = entry[kind]
                last = f"{entry['last_patch_seconds']:.2f}" if kind == "upload" else ""
                lines.append(
                    f"| {kind} {label} | {figures['app_mib_per_s']:.0f} | {figures['limit_mib_per_s']:.0f} "
                    f"| **{figures['ratio']:.2f}x** | {figures['peak_growth_mib']:.1f} MiB | {last} |"
                )
        many = result["concurrent"]
        lines += [
            "",
            "| concurrent uploads | completed | errors | busy answers retried | connections dropped "
            "| wall s | MiB/s in all | worker peak growth |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            f"| {many['uploads']} x {many['size'] // MIB} MiB | {many['completed']} | {len(many['errors'])} "
            f"| {many['retries']} | {many['drops']} | {many['seconds']:.1f} | {many['mib_per_s']:.0f} "
            f"| {many['peak_growth_mib']:.1f} MiB |",
            "",
            f"| worker RSS, MiB | at start | idle ({result['warm_rounds']} warm-up rounds) "
            f"| right after | after {SETTLE_SECONDS} s | within {SETTLE_GOAL_MIB} MiB of idle after |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for number, (pid, worker) in enumerate(result["settle"].items(), start=1):
            back = worker["back_after_seconds"]
            cold, first, last = result["cold_rss_mib"][pid], worker["samples"][0], worker["samples"][-1]
            lines.append(
                f"| {number} | {cold:.0f} | {worker['idle']:.0f} | {first:.0f} | {last:.0f} "
                f"| {'not within 10 s' if back is None else f'{back} s'} |"
            )
    return "\n".join(lines) + ("\n" if lines else "")
