"""The app of this checkout against the app of another commit, interleaved, in one run.

    make bench-compare BASE=<commit> [BENCH_ONLY=scripts_200,sync_upsert] [BENCH_QUICK=1]

How an optimisation earns its place (see bench/README.md): the plain version and the one with
the trick run side by side, on the same database, Redis, CPU and load generator, the runs of
each scenario alternating between them, and the difference is read as a ratio. The other
commit is checked out into a temporary git worktree; both servers run with production
settings under gunicorn on CPU 0, the load generators on CPU 1. Prints a Markdown table and
writes bench/results/compare-<time>.json.
"""

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench import run

NAMES = ("this", "base")


def checkout(ref: str, directory: Path) -> str:
    """`ref` checked out into `directory` (a detached worktree); returns its short hash."""
    subprocess.run(["git", "worktree", "add", "--detach", str(directory), ref], cwd=run.PROJECT, check=True)
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=directory, capture_output=True, text=True, check=True
    ).stdout.strip()


def table(report: dict) -> str:
    lines = [
        f"this checkout ({report['this']}) against {report['base']} ({report['base_ref']}), "
        f"{report['runs']} interleaved runs of {report['seconds']} s each, medians:",
        "",
        "| scenario | base req/s | this req/s | this ÷ base | base CPU ms/req | this CPU ms/req "
        "| base p99 ms | this p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, by in report["throughput"].items():
        rps = {n: run.median(r["rps"] for r in by[n]) for n in NAMES}
        cpu = {n: run.median(r["cpu_ms_per_request"] for r in by[n]) for n in NAMES}
        p99 = {n: report["fixed_rate"].get(name, {}).get(n, {}).get("p99_ms") for n in NAMES}
        lines.append(
            f"| {name} | {rps['base']:.0f} | {rps['this']:.0f} | **{rps['this'] / rps['base']:.2f}x** "
            f"| {cpu['base']:.2f} | {cpu['this']:.2f} | {p99['base'] or '-'} | {p99['this'] or '-'} |"
        )
    memory = report["memory_after_load"]
    lines += [
        "",
        "Workers' RSS after the load, MiB: "
        + ", ".join(f"{n} {memory[n]['workers_rss_mib']:.0f}" for n in NAMES),
    ]
    return "\n".join(lines)


def main() -> int:
    base_ref = os.environ.get("BASE") or (sys.argv[1] if len(sys.argv) > 1 else "")
    if not base_ref:
        print("usage: make bench-compare BASE=<commit>", file=sys.stderr)
        return 2
    run.RESULTS.mkdir(exist_ok=True)
    run.ensure_tools()
    database_url, redis_url = run.database_urls()
    run.create_database(database_url)
    env = run.base_env(database_url, redis_url)
    seed = run.seed_database(env)
    bench = run.Bench(seed, env)
    scenarios = run.MEASURED
    with tempfile.TemporaryDirectory(prefix="persona-base-") as scratch:
        base_dir = Path(scratch) / "base"
        report = {"base_ref": base_ref, "base": checkout(base_ref, base_dir), "this": run.machine()["commit"]}
        report.update(runs=run.RUNS, seconds=run.SECONDS, machine=run.machine())
        try:
            with contextlib.ExitStack() as stack:
                live = {
                    "this": run.Contender("this", stack.enter_context(run.start("this", env, 3821))),
                    "base": run.Contender(
                        "base", stack.enter_context(run.start("base", env, 3822, project=base_dir))
                    ),
                }
                bench.fetch_etags(live)
                report["throughput"] = bench.throughput(live, scenarios)
                peaks = {
                    name: {n: run.median(r["rps"] for r in by[n]) for n in NAMES}
                    for name, by in report["throughput"].items()
                }
                fixed = [s for s in scenarios if s.fixed_rate]
                report["fixed_rate"] = bench.fixed_rate(live, peaks, fixed)
                report["memory_after_load"] = bench.memory(live)
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(base_dir)], cwd=run.PROJECT, check=False
            )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (run.RESULTS / f"compare-{stamp}.json").write_text(json.dumps(report, indent=1, default=str))
    print(table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
