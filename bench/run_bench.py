#!/usr/bin/env python3
"""Runs imagegc's benchmarks and writes a markdown table of medians (scripts/bench.sh runs it).

Whole-process figures: the daemon against bench/fake_engine_server in a process of its own, so
the daemon is measured alone (wall time, CPU from /proc/<pid>/stat, peak RSS from VmHWM); the
docker CLI doing the same listing against the same fake engine. In-process figures: Google
Benchmark (bench/imagegc_bench.cpp). Each measure runs several times; the table quotes medians.
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def log(*parts):
    print("[bench]", *parts, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_kib(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def http_get(port, path, timeout=5.0):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class FakeEngine:
    """bench/fake_engine_server in a process of its own."""

    def __init__(self, server, images, directory, events_rate=0, events_total=0):
        self.directory = directory
        self.stats_path = os.path.join(directory, "stats.json")
        command = [server, "--dir", directory, "--images", str(images),
                   "--stats", self.stats_path]
        if events_rate:
            command += ["--events-rate", str(events_rate), "--events-total", str(events_total)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline().strip()
        if not line.startswith("ready "):
            raise RuntimeError(f"fake engine did not start: {line!r}")
        self.url = line.split(" ", 1)[1]
        self.socket = self.url[len("unix://"):]

    def read_stats(self):
        try:
            with open(self.stats_path) as stats:
                return json.load(stats)
        except (OSError, ValueError):
            return None

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        return self.read_stats()


class Daemon:
    """imagegc run, listening on a loopback port."""

    def __init__(self, imagegc, engine_url, policy, state_dir):
        self.port = free_port()
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [imagegc, "--host", engine_url, "--log-level", "warn", "run", "--config", policy,
             "--state-dir", state_dir, "--listen", f"127.0.0.1:{self.port}"],
            stdin=subprocess.DEVNULL)
        self.pid = self.process.pid

    def wait_ready(self, timeout=120.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("imagegc exited before it was ready")
            try:
                status, _ = http_get(self.port, "/readyz", timeout=30)
                if status == 200:
                    return time.monotonic() - self.started
            except OSError:
                pass
            time.sleep(0.005)
        raise RuntimeError("imagegc was not ready in time")

    def metrics(self):
        status, body = http_get(self.port, "/metrics", timeout=30)
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        return body.decode()

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


def metric_sum(text, name):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def start_and_measure(args, fake, state_dir, scrapes=0):
    engine_cpu_before = cpu_seconds(fake.process.pid)
    daemon = Daemon(args.imagegc, fake.url, args.policy, state_dir)
    try:
        ready = daemon.wait_ready()
        # The fake engine answers on the same cores: its CPU to ready is part of the wall time.
        result = {"ready_s": ready, "cpu_s": cpu_seconds(daemon.pid),
                  "engine_cpu_s": cpu_seconds(fake.process.pid) - engine_cpu_before,
                  "peak_rss_mib": memory_kib(daemon.pid, "VmHWM") / 1024}
        if scrapes:
            # The figures of a scrape refresh at most once a second; give the daemon its first
            # refresh, then time scrapes of a settled daemon.
            time.sleep(1.5)
            timings = []
            size = 0
            for _ in range(scrapes):
                started = time.monotonic()
                size = len(daemon.metrics())
                timings.append(time.monotonic() - started)
                time.sleep(0.05)
            result["scrape_ms"] = statistics.median(timings) * 1000
            result["scrape_bytes"] = size
        return daemon, result
    except BaseException:
        daemon.stop()
        raise


def image_reads(stats):
    by_kind = stats.get("requests_by_path", {}) if stats else {}
    return (by_kind.get("GET /images/{name}/json", 0), by_kind.get("GET /images/{name}/history", 0))


def cold_and_warm(args, images, runs, idle_seconds):
    rows = {"cold": [], "warm": [], "idle": []}
    for run in range(runs):
        work = tempfile.mkdtemp(prefix="imagegc-bench-")
        try:
            state_dir = os.path.join(work, "state")
            fake = FakeEngine(args.server, images, os.path.join(work, "engine-cold"))
            try:
                daemon, cold = start_and_measure(args, fake, state_dir, scrapes=args.scrapes)
                try:
                    if idle_seconds:
                        time.sleep(3)  # after the first sync: layers written, figures settled
                        cpu_before = cpu_seconds(daemon.pid)
                        time.sleep(idle_seconds)
                        rows["idle"].append({
                            "cpu_percent": 100 * (cpu_seconds(daemon.pid) - cpu_before) /
                            idle_seconds,
                            "rss_mib": memory_kib(daemon.pid, "VmRSS") / 1024})
                    else:
                        time.sleep(1)  # let it write the layer chains before it is stopped
                finally:
                    daemon.stop()
            finally:
                stats = fake.stop()
            cold["inspects"], cold["histories"] = image_reads(stats)
            rows["cold"].append(cold)

            fake = FakeEngine(args.server, images, os.path.join(work, "engine-warm"))
            try:
                daemon, warm = start_and_measure(args, fake, state_dir)
                daemon.stop()
            finally:
                stats = fake.stop()
            warm["inspects"], warm["histories"] = image_reads(stats)
            rows["warm"].append(warm)
            log(f"{images} images, run {run + 1}: cold {cold}, warm {warm}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return rows


def events_end_to_end(args, images, rate, seconds, runs):
    results = []
    total = int(rate * seconds)
    for run in range(runs):
        work = tempfile.mkdtemp(prefix="imagegc-bench-events-")
        try:
            fake = FakeEngine(args.server, images, os.path.join(work, "engine"), rate, total)
            daemon = None
            try:
                daemon = Daemon(args.imagegc, fake.url, args.policy, os.path.join(work, "state"))
                daemon.wait_ready()
                deadline = time.monotonic() + seconds + 120
                stats = None
                while time.monotonic() < deadline:
                    stats = fake.read_stats()
                    if stats and stats["events_sent"] == total:
                        break
                    time.sleep(0.1)
                applied = 0.0
                text = ""
                while time.monotonic() < deadline:
                    text = daemon.metrics()
                    applied = metric_sum(text, "imagegc_engine_events_total")
                    if applied >= stats["events_tracked"]:
                        break
                    time.sleep(0.02)
                done = time.time()
                reconnects = metric_sum(text, "imagegc_engine_reconnects_total")
                result = {
                    "sent": total, "tracked": stats["events_tracked"], "applied": applied,
                    "lag_s": max(0.0, done - stats["last_event_unix"]),
                    "rate": total / max(1e-9, done - stats["first_event_unix"]),
                    "reconnects": reconnects,
                }
            finally:
                if daemon:
                    daemon.stop()
                final = fake.stop()
            result["subscriptions"] = final["subscriptions"] if final else None
            log(f"events at {rate}/s, run {run + 1}: {result}")
            results.append(result)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return results


def timed_shell(command, env):
    """Wall, CPU and peak RSS of a shell command and everything it starts (GNU time)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        subprocess.run(["/usr/bin/time", "-o", report.name, "-f", "%e %U %S %M", "bash", "-o",
                        "pipefail", "-c", command], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        wall, user, system, max_kib = report.read().split()[-4:]
    return {"wall_s": float(wall), "cpu_s": float(user) + float(system),
            "peak_rss_mib": int(max_kib) / 1024}


def docker_cli(args, images, runs):
    docker = shutil.which("docker")
    if not docker:
        return None
    results = []
    for _ in range(runs):
        work = tempfile.mkdtemp(prefix="imagegc-bench-cli-")
        try:
            fake = FakeEngine(args.server, images, os.path.join(work, "engine"))
            try:
                env = dict(os.environ, DOCKER_HOST=fake.url, DOCKER_CONFIG=work)
                result = timed_shell("docker image ls -a -q --no-trunc | xargs -r docker image "
                                     "inspect >/dev/null && docker system df >/dev/null", env)
                result["ls_s"] = timed_shell("docker image ls -a >/dev/null", env)["wall_s"]
                results.append(result)
            finally:
                fake.stop()
        finally:
            shutil.rmtree(work, ignore_errors=True)
    log(f"docker CLI, {images} images: {results}")
    return results


def google_benchmarks(args):
    output = subprocess.run(
        [args.bench, "--benchmark_repetitions=" + str(args.runs),
         "--benchmark_report_aggregates_only=true", "--benchmark_format=json"]
        + ([f"--benchmark_filter={args.bench_filter}"] if args.bench_filter else []),
        check=True, capture_output=True, text=True).stdout
    medians = {}
    for entry in json.loads(output)["benchmarks"]:
        if entry.get("aggregate_name") == "median":
            medians[entry["run_name"]] = entry
    return medians


def median(rows, key):
    values = [row[key] for row in rows if row.get(key) is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=2, unit=""):
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}{unit}"
    return f"{value}{unit}"


def verdict(value, limit, below=True):
    if value is None:
        return "n/a"
    return "met" if (value < limit if below else value >= limit) else "**missed**"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scrapes", type=int, default=20)
    parser.add_argument("--idle-seconds", type=int, default=30)
    parser.add_argument("--events-rate", type=int, default=20000)
    parser.add_argument("--events-seconds", type=int, default=10)
    parser.add_argument("--bench-filter", default="")
    parser.add_argument("--skip", default="", help="comma list of: daemon,events,cli,gbench")
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    args.imagegc = os.path.join(args.build_dir, "daemon", "imagegc")
    args.server = os.path.join(args.build_dir, "bench", "imagegc_fake_engine_server")
    args.bench = os.path.join(args.build_dir, "bench", "imagegc_bench")
    args.policy = os.path.join(args.source_dir, "bench", "policy-10-rules.yaml")
    sizes = [int(size) for size in args.sizes.split(",")]
    skip = set(filter(None, args.skip.split(",")))

    daemon_rows = {}
    cli_rows = {}
    if "daemon" not in skip:
        for size in sizes:
            daemon_rows[size] = cold_and_warm(args, size, args.runs,
                                              args.idle_seconds if size == 10000 else 0)
    if "cli" not in skip:
        for size in sizes:
            cli_rows[size] = docker_cli(args, size, args.runs)
    events = None
    if "events" not in skip:
        events = events_end_to_end(args, 10000, args.events_rate, args.events_seconds, args.runs)
    gbench = google_benchmarks(args) if "gbench" not in skip else {}

    lines = []
    machine = f"{os.cpu_count()} cores, {os.uname().release}"
    lines.append(f"Medians of {args.runs} runs on {machine}; "
                 "fake engine (bench/fake_engine_server) in its own process.")
    lines.append("")
    header = "| measure | " + " | ".join(f"{size // 1000}k images" for size in sizes) + \
        " | target |"
    lines.append(header)
    lines.append("|" + " --- |" * (len(sizes) + 2))

    def row(name, values, target=""):
        lines.append(f"| {name} | " + " | ".join(values) + f" | {target} |")

    if daemon_rows:
        def per_size(section, key, digits=2, unit=""):
            return [fmt(median(daemon_rows[size][section], key), digits, unit) for size in sizes]

        row("cold start to ready: wall", per_size("cold", "ready_s", 2, " s"), "100k: < 3 s")
        row("cold start to ready: CPU", per_size("cold", "cpu_s", 2, " s"))
        row("cold start: the fake engine's CPU till then", per_size("cold", "engine_cpu_s", 2, " s"))
        row("cold start: peak RSS", per_size("cold", "peak_rss_mib", 0, " MiB"), "100k: < 200 MB")
        row("cold start: inspect + history calls",
            [f"{int(median(daemon_rows[s]['cold'], 'inspects'))} + "
             f"{int(median(daemon_rows[s]['cold'], 'histories'))}" for s in sizes])
        row("warm restart to ready: wall", per_size("warm", "ready_s", 2, " s"), "100k: < 1.5 s")
        row("warm restart: peak RSS", per_size("warm", "peak_rss_mib", 0, " MiB"))
        row("warm restart: inspect + history calls",
            [f"{int(median(daemon_rows[s]['warm'], 'inspects'))} + "
             f"{int(median(daemon_rows[s]['warm'], 'histories'))}" for s in sizes], "0 + 0")
        row("/metrics scrape (HTTP, whole)", per_size("cold", "scrape_ms", 2, " ms"),
            "100k: < 20 ms")
        row("/metrics body", per_size("cold", "scrape_bytes", 0, " B"), "independent of images")
        idle = {size: daemon_rows[size]["idle"] for size in sizes}
        row("idle: CPU between events", [fmt(median(idle[s], "cpu_percent"), 3, " %")
                                         if idle[s] else "" for s in sizes], "10k: < 0.1 %")
        row("idle: RSS", [fmt(median(idle[s], "rss_mib"), 0, " MiB") if idle[s] else ""
                          for s in sizes], "10k: < 60 MB")
    if cli_rows and all(cli_rows.values()):
        row("docker CLI: `image ls -a`", [fmt(median(cli_rows[s], "ls_s"), 2, " s")
                                          for s in sizes])
        row("docker CLI: `ls -aq \\| xargs inspect` + `system df`: wall",
            [fmt(median(cli_rows[s], "wall_s"), 2, " s") for s in sizes])
        row("docker CLI: same, CPU", [fmt(median(cli_rows[s], "cpu_s"), 2, " s") for s in sizes])
        row("docker CLI: same, peak RSS", [fmt(median(cli_rows[s], "peak_rss_mib"), 0, " MiB")
                                           for s in sizes])

    def gb(name, size, counter=None, scale=1.0):
        entry = gbench.get(f"{name}/{size}")
        if entry is None:
            return None
        if counter:
            return entry.get(counter)
        return entry["real_time"] * scale

    if gbench:
        def gb_row(title, name, digits=2, unit=" ms", counter=None, target="", scale=1.0):
            row(title, [fmt(gb(name, s, counter, scale), digits, unit) for s in sizes], target)

        gb_row("graph build (in-process)", "BM_GraphBuild")
        gb_row("events parsed and applied (in-process)", "BM_EventsParseAndApply", 0, "/s",
               counter="events_per_second", target=">= 200k/s")
        gb_row("reclaimable figures after one event", "BM_ReclaimableAfterOneEvent", 2, " µs",
               target="100k: < 1 ms")
        gb_row("plan, 10-rule policy", "BM_Plan", target="100k: < 150 ms")
        gb_row("metrics refresh + text format (in-process)", "BM_MetricsScrape")
        gb_row("unique bytes of every image", "BM_UniqueBytesEveryImage")
    lines.append("")
    if events:
        lines.append(
            f"Events end to end (10k images, {args.events_rate} events/s for "
            f"{args.events_seconds} s, the mix of FakeEngine::emit_workload_events): delivered "
            f"at {fmt(median(events, 'rate'), 0)}/s, last event applied "
            f"{fmt(median(events, 'lag_s'), 2)} s after it was sent, "
            f"{fmt(median(events, 'applied'), 0)} of {fmt(median(events, 'tracked'), 0)} graph "
            f"events applied, reconnects {fmt(median(events, 'reconnects'), 0)}, "
            f"subscriptions {fmt(median(events, 'subscriptions'), 0)} (target: 20k events/s, "
            "no dropped connection).")
    text = "\n".join(lines) + "\n"
    with open(args.output, "w") as out:
        out.write(text)
    with open(args.output + ".json", "w") as raw:
        json.dump({"daemon": {str(k): v for k, v in daemon_rows.items()},
                   "cli": {str(k): v for k, v in cli_rows.items()}, "events": events,
                   "gbench": gbench}, raw, indent=2)
    print(text)


if __name__ == "__main__":
    main()
