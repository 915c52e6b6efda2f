"""The Markdown tables of a benchmark report (see bench/run.py): ratios first, then details."""

CONTENDERS = ("app", "floor", "peer")
LABELS = {
    "health": "GET /health",
    "scripts_200": "GET /api/ai/scripts (20 scripts) → 200",
    "scripts_304": "GET /api/ai/scripts → 304",
    "sync_upsert": "POST /api/sync/status (accepted update)",
    "sync_get": "GET /api/sync/status/<id>",
    "config_read": "GET /api/config/app-config (20 parameters, cached) → 200",
    "login": "POST /api/auth/login (bcrypt, 12 rounds)",
    "backup_list_100": "GET /api/sync/backup (100 x 1 MiB stored)",
    "backup_list_100_tiny": "GET /api/sync/backup (100 tiny stored)",
}


def _median(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def _f(value, digits=1):
    return "-" if value is None else f"{value:,.{digits}f}"


def _ratio(a, b):
    return "-" if not a or not b else f"**{a / b:.2f}x**"


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        "### Benchmark: the app against a bare-WSGI floor and the Express peer",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_mib']:,} MiB RAM, Linux {m['kernel']}, "
        f"Python {m['python']}, Node {m['node']}; servers pinned to CPU 0, load generators to CPU 1; "
        f"load average at start {m['load_average'][0]:.2f}; commit {m['commit']}, {m['date']}"
        + (" (quick mode: one short round)" if m["quick"] else "")
        + ".",
        "",
        "Peak throughput (wrk, closed loop, median of the interleaved runs) and ratios:",
        "",
        "| scenario | app req/s | floor req/s | peer req/s | app ÷ floor | app ÷ peer |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    throughput = report["throughput"]
    peaks = {}
    for name, by in throughput.items():
        peaks[name] = {c: _median(r["rps"] for r in by[c]) for c in CONTENDERS}
        p = peaks[name]
        lines.append(
            f"| {LABELS[name]} | {_f(p['app'])} | {_f(p['floor'])} | {_f(p['peer'])} | "
            f"{_ratio(p['app'], p['floor'])} | {_ratio(p['app'], p['peer'])} |"
        )
    ceiling = report["bcrypt_ceiling_per_s"]
    lines.append(
        f"| bcrypt ceiling (hashes/s, one core) | {_f(peaks['login']['app'], 2)} | | | "
        f"{_ratio(peaks['login']['app'], ceiling)} of {ceiling:.2f}/s | |"
    )

    lines += [
        "",
        "Latency at a fixed rate (open loop, half the slowest contender's peak), p50 / p99 in ms:",
        "",
        "| scenario | rate/s | app | floor | peer | app p99 ÷ peer p99 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, entry in report["fixed_rate"].items():
        cells = [f"{_f(entry[c]['p50_ms'])} / {_f(entry[c]['p99_ms'])}" for c in CONTENDERS]
        lines.append(
            f"| {LABELS[name]} | {entry['rate']} | {' | '.join(cells)} | "
            f"{entry['app']['p99_ms'] / entry['peer']['p99_ms']:.2f}x |"
        )
    during = report["reads_during_logins"]
    lines += [
        "",
        f"Template reads at {during['rate']}/s, p99 alone → while logins saturate the server:",
        "",
        "| | app | floor | peer |",
        "|---|---:|---:|---:|",
        "| p99 alone → during logins (ms) | "
        + " | ".join(
            f"{_f(during[c]['p99_alone_ms'])} → {_f(during[c]['p99_during_logins_ms'])}" for c in CONTENDERS
        )
        + " |",
        "| ratio | " + " | ".join(f"{during[c]['p99_ratio']:.2f}x" for c in CONTENDERS) + " |",
    ]

    lines += [
        "",
        "Cost per request: CPU ms of the server's processes (median run) and SQL statements "
        "(counted on the wire):",
        "",
        "| scenario | app CPU | floor CPU | peer CPU | app SQL | floor SQL | peer SQL |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    sql = report["sql_per_request"]
    for name, by in throughput.items():
        cpu = [_median(r["cpu_ms_per_request"] for r in by[c]) for c in CONTENDERS]
        counts = [sql[c].get(name) for c in CONTENDERS]
        lines.append(
            f"| {LABELS[name]} | "
            + " | ".join(_f(v, 2) for v in cpu)
            + " | "
            + " | ".join(_f(v, 0) for v in counts)
            + " |"
        )

    lines += [
        "",
        "Backups (sequential requests; MiB/s of payload, and the largest growth of a worker's peak "
        "RSS during one request):",
        "",
        "| transfer | app MiB/s | floor MiB/s | peer MiB/s | app ÷ peer | app peak growth | floor | peer |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, by in report["backups"].items():
        lines.append(
            f"| {key.removeprefix('backup_').replace('_', ' ')} | "
            + " | ".join(_f(by[c]["mb_per_s"]) for c in CONTENDERS)
            + f" | {_ratio(by['app']['mb_per_s'], by['peer']['mb_per_s'])} | "
            + " | ".join(
                f"{_f(by[c]['peak_growth_mib'])} MiB ({by[c]['peak_growth_x_payload']:.1f}x)"
                for c in CONTENDERS
            )
            + " |"
        )

    memory = report["memory_after_load"]
    lines += [
        "",
        "Memory after the load (MiB; workers: gunicorn's worker processes, or the node process):",
        "",
        "| | app | floor | peer | app ÷ peer |",
        "|---|---:|---:|---:|---:|",
        "| processes | " + " | ".join(str(memory[c]["processes"]) for c in CONTENDERS) + " | |",
        "| RSS per worker | "
        + " | ".join(", ".join(f"{w['rss_mib']:.0f}" for w in memory[c]["workers"]) for c in CONTENDERS)
        + " | |",
        "| USS per worker | "
        + " | ".join(", ".join(f"{w['uss_mib']:.0f}" for w in memory[c]["workers"]) for c in CONTENDERS)
        + " | |",
        "| workers' RSS total | "
        + " | ".join(_f(memory[c]["workers_rss_mib"], 0) for c in CONTENDERS)
        + f" | {_ratio(memory['app']['workers_rss_mib'], memory['peer']['workers_rss_mib'])} |",
        "| workers' USS total | "
        + " | ".join(_f(memory[c]["workers_uss_mib"], 0) for c in CONTENDERS)
        + f" | {_ratio(memory['app']['workers_uss_mib'], memory['peer']['workers_uss_mib'])} |",
        "| all processes' RSS | "
        + " | ".join(_f(memory[c]["total_rss_mib"], 0) for c in CONTENDERS)
        + " | |",
    ]
    lines += ["", *targets(report, peaks)]
    return "\n".join(lines) + "\n"


def targets(report: dict, peaks: dict) -> list[str]:
    """Issue 8's targets, each with its measured value."""
    rows = []

    def check(name, value, goal, met):
        rows.append(f"| {name} | {value} | {goal} | {'met' if met else '**not met**'} |")

    for scenario in ("scripts_200", "scripts_304", "sync_upsert"):
        p = peaks[scenario]
        check(
            f"{LABELS[scenario]}: app ÷ floor",
            f"{p['app'] / p['floor']:.2f}x",
            ">= 0.8x",
            p["app"] >= 0.8 * p["floor"],
        )
        check(
            f"{LABELS[scenario]}: app ÷ peer",
            f"{p['app'] / p['peer']:.2f}x",
            ">= 1.0x",
            p["app"] >= p["peer"],
        )
    login, ceiling = peaks["login"], report["bcrypt_ceiling_per_s"]
    check(
        "login: app ÷ bcrypt ceiling",
        f"{login['app'] / ceiling:.2f}x",
        ">= 0.9x",
        login["app"] >= 0.9 * ceiling,
    )
    check(
        "login: app ÷ peer",
        f"{login['app'] / login['peer']:.2f}x",
        ">= 0.95x",
        login["app"] >= 0.95 * login["peer"],
    )
    ratio = report["reads_during_logins"]["app"]["p99_ratio"]
    check("template read p99 while logins run ÷ alone", f"{ratio:.2f}x", "<= 2x", ratio <= 2)
    for kind in ("upload", "download"):
        entry = report["backups"][f"backup_{kind}_10MiB"]
        growth = entry["app"]["peak_growth_x_payload"]
        shown = f"{growth:.1f}x the payload"
        check(f"10 MiB {kind}: worker peak RSS growth", shown, "<= 3x", round(growth, 1) <= 3)
    download = report["backups"]["backup_download_10MiB"]
    check(
        "10 MiB download time ÷ peer's",
        f"{download['peer']['mb_per_s'] / download['app']['mb_per_s']:.2f}x",
        "<= 1x",
        download["app"]["mb_per_s"] >= download["peer"]["mb_per_s"],
    )
    big, tiny = peaks["backup_list_100"]["app"], peaks["backup_list_100_tiny"]["app"]
    check(
        "list of 100 x 1 MiB backups ÷ 100 tiny (req/s)",
        f"{big / tiny:.2f}x",
        "about 1x (>= 0.9x)",
        big >= 0.9 * tiny,
    )
    memory = report["memory_after_load"]
    rss = memory["app"]["workers_rss_mib"] / memory["peer"]["workers_rss_mib"]
    check("app workers' RSS after load ÷ peer's", f"{rss:.2f}x", "<= 1.5x", rss <= 1.5)
    return ["Issue 8's targets:", "", "| target | measured | goal | |", "|---|---:|---:|---|", *rows]
