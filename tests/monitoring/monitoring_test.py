#!/usr/bin/env python3
"""Tests of imagegc's monitoring: the /metrics output, the Grafana dashboard and the Prometheus
alert rules, against a real Prometheus scraping real daemons that watch real engines.

    monitoring_test.py CHECK --imagegc BINARY --source-dir DIR

CHECK is one of
  rules       promtool check rules, and the rules' unit tests (promtool test rules)
  dashboard   the dashboard's structure: variables, data sources, layout, and every query
              filtered by the host variable
  metrics     a running daemon's /metrics passes promtool check metrics and matches the contract
  prometheus  Prometheus scrapes a running daemon: every dashboard and alert expression returns
              data, and the scraped figures follow changes made to the engine
  fleet       one Prometheus scrapes three daemons, each watching its own engine: the host
              variable lists the three and the fleet panels add them up

The engine is $IMAGEGC_TEST_DOCKER_HOST (scripts/test.sh starts a private one). Without it, or
without prometheus/promtool, a check is skipped (exit 77), or fails when IMAGEGC_REQUIRE_ENGINE=1.
Everything listens on 127.0.0.1 only, and every process started here is stopped by its PID.
Python 3 standard library only.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

SKIP = 77
RULE_NAME = "monitoring-test"
TEST_LABEL = "imagegc.test=monitoring"
RANDOM_BYTES = 300000

# The metrics contract: family -> (type, label names, allowed values per label or None for any,
# whether the daemon exports it from the start).
CONTRACT = {
    "imagegc_images": ("gauge", {"state": {"tagged", "dangling", "intermediate"}, "in_use": {"true", "false"}}, True),
    "imagegc_layers_bytes": ("gauge", {}, True),
    "imagegc_reclaimable_bytes": ("gauge", {"category": {"dangling", "unused", "policy"}}, True),
    "imagegc_rule_reclaimable_bytes": ("gauge", {"rule": None}, False),
    "imagegc_deleted_images_total": ("counter", {"rule": None}, False),
    "imagegc_reclaimed_bytes_total": ("counter", {"rule": None}, False),
    "imagegc_delete_failures_total": ("counter", {"reason": {"conflict", "not_found", "engine_error"}}, True),
    "imagegc_runs_total": (
        "counter",
        {"trigger": {"schedule", "disk_pressure", "signal", "http", "once"}, "result": {"success", "failure"}},
        False,
    ),
    "imagegc_run_duration_seconds": ("histogram", {}, True),
    "imagegc_last_run_timestamp_seconds": ("gauge", {}, True),
    "imagegc_engine_up": ("gauge", {}, True),
    "imagegc_engine_reconnects_total": ("counter", {}, True),
    "imagegc_engine_events_total": ("counter", {"type": None, "action": None}, False),
    "imagegc_graph_resync_corrections_total": ("counter", {}, True),
    "imagegc_disk_bytes": ("gauge", {"kind": {"size", "free"}}, True),
    "imagegc_build_cache_bytes": ("gauge", {"reclaimable": {"true", "false"}}, True),
    "imagegc_policy_reloads_total": ("counter", {"result": {"success", "failure"}}, True),
    "imagegc_build_info": ("gauge", {"version": None}, True),
}

# Grafana's variables, as the test evaluates the dashboard's queries: every host, one-minute windows.
GRAFANA_VARIABLES = {
    "host": ".*",
    "__rate_interval": "1m",
    "__interval": "1m",
    "__range": "1m",
    "__range_s": "60",
    "__interval_ms": "60000",
}


class Failure(Exception):
    pass


class Fatal(Failure):
    """A failure no amount of waiting mends (a process exited)."""


class Skip(Exception):
    pass


def log(message):
    print(message, flush=True)


def need(condition, what):
    """A prerequisite: skips without it, or fails when the environment says it must be there."""
    if condition:
        return
    if os.environ.get("IMAGEGC_REQUIRE_ENGINE") == "1":
        raise Failure(f"{what} (required: IMAGEGC_REQUIRE_ENGINE=1)")
    raise Skip(what)


def tool(name):
    path = shutil.which(name)
    need(path is not None, f"{name} is not installed (Debian package prometheus)")
    return path


def engine_host():
    host = os.environ.get("IMAGEGC_TEST_DOCKER_HOST", "")
    need(host != "", "IMAGEGC_TEST_DOCKER_HOST is not set: no engine to test against")
    return host


def docker_cli():
    cli = os.environ.get("IMAGEGC_TEST_DOCKER_CLI", "/usr/bin/docker")
    need(os.access(cli, os.X_OK), f"the docker CLI {cli} is missing")
    return cli


def wait_until(what, predicate, timeout, interval=0.5):
    """Polls until predicate() returns something true and returns it; fails after timeout."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Fatal:
            raise
        except Failure as error:
            last_error = error
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise Failure(f"timed out after {timeout}s waiting for {what}{detail}")
        time.sleep(interval)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_get(url, timeout=5):
    """(status, body) of a GET on loopback; status 0 when nothing answered."""
    assert url.startswith("http://127.0.0.1:"), url
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except (urllib.error.URLError, OSError):
        return 0, ""


def tail(path, lines=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


class Cleanup:
    """Undo actions run last-in first-out, also on SIGTERM (ctest's timeout) and SIGINT."""

    def __init__(self):
        self.m_actions = []

    def push(self, description, action):
        self.m_actions.append((description, action))

    def run(self):
        while self.m_actions:
            description, action = self.m_actions.pop()
            try:
                action()
            except Exception as error:  # keep cleaning up whatever fails
                log(f"cleanup: {description}: {error}")


def stop_process(process, name, timeout=20):
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log(f"{name} (pid {process.pid}) ignored SIGTERM for {timeout}s; killing it")
        process.kill()
        process.wait()


class Daemon:
    """`imagegc run` on a loopback port, watching one engine."""

    def __init__(self, cleanup, binary, docker_host, policy_text, workdir, name):
        self.name = name
        os.makedirs(workdir, exist_ok=True)
        self.policy = os.path.join(workdir, "policy.yaml")
        with open(self.policy, "w") as f:
            f.write(policy_text)
        os.chmod(self.policy, 0o644)
        check = subprocess.run([binary, "check-config", self.policy], capture_output=True, text=True)
        if check.returncode != 0:
            raise Failure(f"the test's policy is invalid:\n{check.stdout}{check.stderr}")
        state_dir = os.path.join(workdir, "state")
        os.makedirs(state_dir, exist_ok=True)
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.address}"
        self.log_path = os.path.join(workdir, "imagegc.log")
        command = [binary, "--host", docker_host, "--log-level", "debug", "run", "--listen", self.address,
                   "--config", self.policy, "--state-dir", state_dir]
        with open(self.log_path, "w") as log_file:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log_file,
                                            stderr=subprocess.STDOUT)
        cleanup.push(f"stop {name}", lambda: stop_process(self.process, name))
        log(f"{name}: pid {self.process.pid}, {self.url}, engine {docker_host}")
        try:
            wait_until(f"{name} to serve /metrics with imagegc_engine_up 1", self._engine_up, 60)
        except Failure as error:
            raise Failure(f"{error}\n{name}'s log:\n{tail(self.log_path)}")

    def _engine_up(self):
        if self.process.poll() is not None:
            raise Fatal(f"{self.name} exited with {self.process.returncode}")
        status, body = http_get(self.url + "/metrics")
        return status == 200 and re.search(r"^imagegc_engine_up(\{\})? 1(\.0*)?$", body, re.M) is not None

    def metrics(self):
        status, body = http_get(self.url + "/metrics")
        if status != 200:
            raise Failure(f"{self.name}: GET /metrics answered {status}")
        return body

    def value(self, name, labels=None):
        """One sample of the daemon's own /metrics, or None."""
        for sample_name, sample_labels, value in parse_samples(self.metrics()):
            if sample_name == name and (labels or {}) == {k: sample_labels.get(k) for k in (labels or {})}:
                return value
        return None


class Prometheus:
    """A Prometheus on a loopback port with its own storage, scraping the given targets every second."""

    def __init__(self, cleanup, binary, targets, workdir, rule_files=()):
        os.makedirs(workdir, exist_ok=True)
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": list(rule_files),
            "scrape_configs": [{"job_name": "imagegc", "static_configs": [{"targets": list(targets)}]}],
        }
        config_path = os.path.join(workdir, "prometheus.yml")
        with open(config_path, "w") as f:
            json.dump(config, f, indent=2)  # JSON is YAML
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(workdir, "prometheus.log")
        command = [binary, f"--config.file={config_path}", f"--storage.tsdb.path={workdir}/data",
                   f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"]
        with open(self.log_path, "w") as log_file:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log_file,
                                            stderr=subprocess.STDOUT)
        cleanup.push("stop prometheus", lambda: stop_process(self.process, "prometheus"))
        log(f"prometheus: pid {self.process.pid}, {self.url}, scraping {', '.join(targets)}")
        try:
            wait_until("prometheus to be ready", self._ready, 60)
            wait_until("every target to be scraped successfully", lambda: self._targets_up(targets), 60)
        except Failure as error:
            raise Failure(f"{error}\nprometheus's log:\n{tail(self.log_path)}")

    def _ready(self):
        if self.process.poll() is not None:
            raise Fatal(f"prometheus exited with {self.process.returncode}")
        return http_get(self.url + "/-/ready")[0] == 200

    def _targets_up(self, targets):
        data = self.api("/api/v1/targets")
        health = {t["labels"]["instance"]: t["health"] for t in data["activeTargets"]}
        return all(health.get(target) == "up" for target in targets)

    def api(self, path, **params):
        url = self.url + path
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        status, body = http_get(url, timeout=10)
        try:
            answer = json.loads(body)
        except ValueError:
            raise Failure(f"GET {path} answered {status}: {body[:300]}")
        if answer.get("status") != "success":
            raise Failure(f"{path} {params}: {answer.get('errorType')}: {answer.get('error')}")
        return answer["data"]

    def query(self, expr):
        """An instant query's result (a list of samples, possibly empty)."""
        data = self.api("/api/v1/query", query=expr)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def scalar(self, expr):
        """The value of a query that yields one sample, or None when it yields none."""
        result = self.query(expr)
        if len(result) > 1:
            raise Failure(f"{expr} returned {len(result)} series, expected one")
        return float(result[0]["value"][1]) if result else None


# ------------------------------------------------------------------------------ exposition parsing

LABEL_PAIR = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def parse_samples(text):
    """(name, labels, value) of every sample in a text exposition."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)", line)
        if not match:
            raise Failure(f"unparsable exposition line: {line!r}")
        labels = {key: value for key, value in LABEL_PAIR.findall(match.group(2) or "")}
        samples.append((match.group(1), labels, float(match.group(3))))
    return samples


def parse_types(text):
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))


# ------------------------------------------------------------------------------- the dashboard


def load_dashboard(source_dir):
    with open(os.path.join(source_dir, "packaging/grafana/imagegc.json")) as f:
        return json.load(f)


def all_panels(dashboard):
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # collapsed rows keep their panels inside


def dashboard_queries(dashboard):
    """(panel title, refId, expr) of every query in the dashboard."""
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            if "expr" in target:
                yield panel["title"], target.get("refId", "?"), target["expr"]


def row_queries(dashboard, row_title_prefix):
    """The queries of the panels under the row whose title starts with row_title_prefix."""
    queries = []
    inside = False
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            inside = panel["title"].startswith(row_title_prefix)
            nested = panel.get("panels", []) if inside else []
        else:
            nested = [panel] if inside else []
        for member in nested:
            queries += [(member["title"], t.get("refId", "?"), t["expr"]) for t in member.get("targets", [])
                        if "expr" in t]
    if not queries:
        raise Failure(f"the dashboard has no row {row_title_prefix!r} with queries")
    return queries


def substitute(expr, variables=None):
    values = dict(GRAFANA_VARIABLES)
    values.update(variables or {})

    def replace(match):
        name = match.group(1) or match.group(2)
        if name not in values:
            raise Failure(f"unknown dashboard variable ${name} in {expr}")
        return values[name]

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", replace, expr)


def variable(dashboard, name):
    for entry in dashboard["templating"]["list"]:
        if entry["name"] == name:
            return entry
    raise Failure(f"the dashboard has no variable {name}")


def panel_query(dashboard, title):
    for panel_title, _, expr in dashboard_queries(dashboard):
        if panel_title == title:
            return expr
    raise Failure(f"the dashboard has no panel titled {title!r}")


def rule_count(source_dir):
    with open(os.path.join(source_dir, "packaging/prometheus/imagegc-rules.yaml")) as f:
        return len(re.findall(r"^\s*- (?:alert|record):", f.read(), re.M))


# --------------------------------------------------------------------------------- the engine


class Engine:
    """The docker CLI against one engine."""

    def __init__(self, host):
        self.host = host
        self.cli = docker_cli()

    def run(self, *arguments, stdin=None, check=True):
        # The legacy builder: BuildKit would need a registry for its frontend image.
        environment = dict(os.environ, DOCKER_HOST=self.host, DOCKER_BUILDKIT="0")
        result = subprocess.run([self.cli, *arguments], input=stdin, capture_output=True, text=True,
                                env=environment, timeout=120)
        if check and result.returncode != 0:
            raise Failure(f"docker {' '.join(arguments)} failed: {result.stderr.strip()}")
        return result

    def build(self, dockerfile, tag=None):
        """Builds with the legacy builder, no network and no cache; returns the image ID."""
        arguments = ["build", "-q", "--no-cache", "--network", "none"]
        if tag:
            arguments += ["-t", tag]
        return self.run(*arguments, "-", stdin=dockerfile).stdout.strip()

    def exists(self, image):
        return self.run("image", "inspect", image, check=False).returncode == 0

    def remove(self, image):
        if self.exists(image):
            self.run("image", "rm", image, check=False)


def random_dockerfile(label=None):
    # The label first, so the build's last step is the RUN that makes the image's own layer.
    label_line = f"LABEL {label}\n" if label else ""
    return f"FROM busybox:latest\n{label_line}RUN head -c {RANDOM_BYTES} /dev/urandom > /x\n"


DRY_RUN_POLICY = """\
mode: dry-run
schedule: {interval: 1h}
rules:
  - name: dangling
    select: {state: dangling}
"""

# Deletes nothing but the images this test builds with its label.
ENFORCE_TEST_POLICY = f"""\
mode: enforce
schedule: {{interval: 1h}}
rules:
  - name: {RULE_NAME}
    select:
      labels: ["{TEST_LABEL}"]
      state: dangling
"""


# ------------------------------------------------------------------------------------- checks


def check_rules(args, cleanup, workdir):
    promtool = tool("promtool")
    rules = os.path.join(args.source_dir, "packaging/prometheus/imagegc-rules.yaml")
    tests = os.path.join(args.source_dir, "tests/monitoring/imagegc-rules.test.yaml")
    for command in ([promtool, "check", "rules", rules], [promtool, "test", "rules", tests]):
        result = subprocess.run(command, capture_output=True, text=True)
        log(f"$ {' '.join(command)}\n{result.stdout}{result.stderr}")
        if result.returncode != 0:
            raise Failure(f"{' '.join(command[1:3])} failed")


def check_dashboard(args, cleanup, workdir):
    dashboard = load_dashboard(args.source_dir)
    problems = []
    if not 36 <= dashboard.get("schemaVersion", 0) <= 39:
        problems.append(f"schemaVersion {dashboard.get('schemaVersion')}, expected 36 to 39")
    datasource = variable(dashboard, "datasource")
    if datasource.get("type") != "datasource" or datasource.get("query") != "prometheus":
        problems.append("the datasource variable does not choose among Prometheus data sources")
    host = variable(dashboard, "host")
    host_query = host.get("query")
    host_query = host_query.get("query") if isinstance(host_query, dict) else host_query
    if host_query != "label_values(imagegc_build_info, instance)":
        problems.append(f"the host variable's query is {host_query!r}")
    if not (host.get("multi") and host.get("includeAll") and host.get("allValue") == ".*"):
        problems.append("the host variable is not multi-select with All = .*")
    if host.get("datasource", {}).get("uid") != "${datasource}":
        problems.append("the host variable does not use the datasource variable")

    ids = set()
    boxes = []
    used_metrics = set()
    for panel in all_panels(dashboard):
        title = panel.get("title", "?")
        if panel["id"] in ids:
            problems.append(f"panel id {panel['id']} ({title}) is used twice")
        ids.add(panel["id"])
        grid = panel["gridPos"]
        if grid["x"] + grid["w"] > 24:
            problems.append(f"{title}: wider than the grid")
        for other_title, other in boxes:
            if (grid["x"] < other["x"] + other["w"] and other["x"] < grid["x"] + grid["w"]
                    and grid["y"] < other["y"] + other["h"] and other["y"] < grid["y"] + grid["h"]):
                problems.append(f"{title} overlaps {other_title}")
        boxes.append((title, grid))
        if panel["type"] == "row":
            continue
        if panel.get("datasource", {}).get("uid") != "${datasource}":
            problems.append(f"{title}: its data source is not ${{datasource}}")
        if not panel.get("targets"):
            problems.append(f"{title}: no queries")
        for target in panel.get("targets", []):
            expr = target.get("expr", "")
            if target.get("datasource", {}).get("uid") != "${datasource}":
                problems.append(f"{title} {target.get('refId')}: its data source is not ${{datasource}}")
            selectors = re.findall(r"\b(imagegc_[a-zA-Z0-9_]+)(\{[^}]*\})?", expr)
            if not selectors:
                problems.append(f"{title}: {expr} uses no imagegc metric")
            for name, matchers in selectors:
                used_metrics.add(re.sub(r"_(bucket|sum|count)$", "", name))
                if 'instance=~"$host"' not in matchers:
                    problems.append(f'{title}: {name} is not filtered by instance=~"$host" in {expr}')
            try:
                substitute(expr)
            except Failure as error:
                problems.append(f"{title}: {error}")
    for name in sorted(set(CONTRACT) - used_metrics):
        problems.append(f"no panel shows {name}")
    if problems:
        raise Failure("dashboard problems:\n  " + "\n  ".join(problems))
    log(f"{len(ids)} panels, {len(list(dashboard_queries(dashboard)))} queries, every contract metric shown")


def check_metrics(args, cleanup, workdir):
    promtool = tool("promtool")
    host = engine_host()
    daemon = Daemon(cleanup, args.imagegc, host, DRY_RUN_POLICY, os.path.join(workdir, "daemon"), "imagegc")
    problems = Problems()
    problems.run(wait_first_pass, daemon)
    body = daemon.metrics()
    result = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, text=True)
    log(f"$ curl {daemon.url}/metrics | promtool check metrics\n{result.stdout}{result.stderr}"
        f"(exit {result.returncode})")
    if result.returncode != 0 or result.stdout.strip() or result.stderr.strip():
        problems.add("promtool check metrics is not clean:\n" + result.stdout + result.stderr)

    types = parse_types(body)
    samples = parse_samples(body)
    for family, (kind, labels, from_start) in CONTRACT.items():
        names = [family + suffix for suffix in (("_bucket", "_sum", "_count") if kind == "histogram" else ("",))]
        found = [(name, sample_labels, value) for name, sample_labels, value in samples if name in names]
        if not found:
            # A family whose series appear with their first use has no TYPE line until then.
            if from_start:
                problems.add(f"{family}: no samples")
            continue
        if types.get(family) != kind:
            problems.add(f"{family}: TYPE {types.get(family)}, expected {kind}")
            continue
        for name, sample_labels, value in found:
            keys = set(sample_labels) - ({"le"} if name.endswith("_bucket") else set())
            if keys != set(labels):
                problems.add(f"{name}{sample_labels}: labels {sorted(keys)}, expected {sorted(labels)}")
                continue
            for key, allowed in labels.items():
                if allowed is not None and sample_labels[key] not in allowed:
                    problems.add(f"{name}: {key}={sample_labels[key]!r} is not one of {sorted(allowed)}")
    for family, labels in (("imagegc_images", ("state", "in_use")), ("imagegc_reclaimable_bytes", ("category",)),
                           ("imagegc_disk_bytes", ("kind",)), ("imagegc_build_cache_bytes", ("reclaimable",)),
                           ("imagegc_delete_failures_total", ("reason",)),
                           ("imagegc_policy_reloads_total", ("result",))):
        allowed = CONTRACT[family][1]
        expected = {()}
        for label in labels:
            expected = {combination + (value,) for combination in expected for value in allowed[label]}
        present = {tuple(sample_labels.get(label) for label in labels)
                   for name, sample_labels, _ in samples if name == family}
        for missing in sorted(expected - present):
            problems.add(f"{family}: no series for {dict(zip(labels, missing))} (dashboards and alerts "
                            f"need every value from the start)")
    values = {(name, tuple(sorted(labels.items()))): value for name, labels, value in samples}
    build_info = [v for (name, _), v in values.items() if name == "imagegc_build_info"]
    if build_info != [1.0]:
        problems.add(f"imagegc_build_info: {build_info}, expected one series of value 1")
    size = values.get(("imagegc_disk_bytes", (("kind", "size"),)))
    free = values.get(("imagegc_disk_bytes", (("kind", "free"),)))
    if not size or free is None or not 0 < free <= size:
        problems.add(f"imagegc_disk_bytes: size {size}, free {free} (the engine's data root is on this "
                        f"machine: expected 0 < free <= size)")
    if not values.get(("imagegc_layers_bytes", ())):
        problems.add("imagegc_layers_bytes is 0, but the engine holds busybox:latest")
    problems.raise_any()
    log(f"{len(samples)} samples, {len(types)} families, all as the contract says")


def wait_first_pass(daemon):
    """Interval schedules start with a pass once synced; wait until the daemon has recorded it."""
    wait_until("the first scheduled pass to be recorded (imagegc_last_run_timestamp_seconds > 0)",
               lambda: (daemon.value("imagegc_last_run_timestamp_seconds") or 0) > 0, 30)


def evaluate_dashboard(prometheus, dashboard, timeout, queries=None):
    """Every dashboard query (or those given) returns data; fails listing those that never did."""
    if queries is None:
        queries = list(dashboard_queries(dashboard))
    pending = {(title, ref): substitute(expr) for title, ref, expr in queries}
    pending[("host variable", "label_values")] = "imagegc_build_info"
    errors = {}
    deadline = time.monotonic() + timeout
    while pending:
        for key, expr in list(pending.items()):
            try:
                if prometheus.query(expr):
                    del pending[key]
                    errors.pop(key, None)
                else:
                    errors[key] = "no data"
            except Failure as error:
                errors[key] = str(error)
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(1)
    if pending:
        raise Failure("dashboard queries without data:\n  " + "\n  ".join(
            f"{title} [{ref}]: {pending[(title, ref)]}: {errors.get((title, ref))}" for title, ref in pending))
    log(f"all {len(queries)} dashboard queries and the host variable's return data")


def evaluate_rules(prometheus, expected_count, timeout):
    """Prometheus loaded every rule, evaluates each without error, and each expression is a valid query."""

    def evaluated():
        groups = prometheus.api("/api/v1/rules")["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        if len(rules) != expected_count:
            raise Failure(f"prometheus loaded {len(rules)} rules, the file has {expected_count}")
        if any(rule.get("health") == "unknown" for rule in rules):
            return None
        return rules

    rules = wait_until("every alert rule to be evaluated", evaluated, timeout)
    problems = []
    for rule in rules:
        if rule.get("health") != "ok":
            problems.append(f"{rule['name']}: health {rule.get('health')}: {rule.get('lastError')}")
        try:
            prometheus.query(rule["query"])  # success, possibly empty: a quiet alert is fine
        except Failure as error:
            problems.append(f"{rule['name']}: {error}")
    if problems:
        raise Failure("alert rules:\n  " + "\n  ".join(problems))
    log(f"{len(rules)} alert rules evaluate cleanly: " + ", ".join(
        f"{rule['name']} ({rule.get('state', rule.get('type'))})" for rule in rules))


class Problems:
    """Checks that record what failed and let the test go on, so one run reports every problem."""

    def __init__(self):
        self.m_items = []

    def wait(self, what, predicate, timeout):
        try:
            return wait_until(what, predicate, timeout)
        except Fatal:
            raise
        except Failure as error:
            self.add(str(error))
            return None

    def add(self, problem):
        log(f"PROBLEM: {problem}")
        self.m_items.append(problem)

    def run(self, check, *arguments):
        try:
            check(*arguments)
        except Fatal:
            raise
        except Failure as error:
            self.add(str(error))

    def raise_any(self):
        if self.m_items:
            raise Failure(f"{len(self.m_items)} problem(s):\n  " + "\n  ".join(
                item.replace("\n", "\n  ") for item in self.m_items))


def check_prometheus(args, cleanup, workdir):
    prometheus_binary = tool("prometheus")
    tool("promtool")
    engine = Engine(engine_host())
    dashboard = load_dashboard(args.source_dir)
    problems = Problems()
    daemon = Daemon(cleanup, args.imagegc, engine.host, ENFORCE_TEST_POLICY, os.path.join(workdir, "daemon"),
                    "imagegc")
    problems.run(wait_first_pass, daemon)
    rules_file = os.path.join(args.source_dir, "packaging/prometheus/imagegc-rules.yaml")
    prometheus = Prometheus(cleanup, prometheus_binary, [daemon.address], os.path.join(workdir, "prometheus"),
                            [rules_file])
    instance = f'instance="{daemon.address}"'
    tag_prefix = f"imagegc-monitoring-test-{os.getpid()}"

    def scraped(selector):
        return prometheus.scalar(f"{selector[:-1]},{instance}}}" if selector.endswith("}") else
                                 f"{selector}{{{instance}}}")

    def at_least(selector, minimum):
        return lambda: (lambda v: v is not None and v >= minimum and (v,))(scraped(selector))

    def below(selector, maximum):
        return lambda: (lambda v: v is not None and v < maximum and (v,))(scraped(selector))

    def build_moving_tag(tag, label=None):
        """Builds twice under one tag: the first image loses the tag and is left dangling."""
        first = engine.build(random_dockerfile(label), tag=tag)
        cleanup.push(f"remove {first}", lambda: engine.remove(first))
        cleanup.push(f"remove {tag}", lambda: engine.remove(tag))
        engine.build(random_dockerfile(label), tag=tag)
        return first

    # An image only this test's rule selects: the plan shows it, and a pass on SIGUSR1 deletes it.
    rule_bytes = f'imagegc_rule_reclaimable_bytes{{rule="{RULE_NAME}"}}'
    labelled = build_moving_tag(f"{tag_prefix}:labelled", TEST_LABEL)
    log(f"built {labelled}: dangling (its tag moved on), labelled {TEST_LABEL}")
    if problems.wait(f"scraped {rule_bytes} >= {RANDOM_BYTES}", at_least(rule_bytes, RANDOM_BYTES), 60):
        daemon.process.send_signal(signal.SIGUSR1)
        if problems.wait("the labelled image to be deleted by the pass SIGUSR1 asked for",
                         lambda: not engine.exists(labelled), 60):
            log("the SIGUSR1 pass deleted it")
            for selector, minimum in ((f'imagegc_deleted_images_total{{rule="{RULE_NAME}"}}', 1),
                                      (f'imagegc_reclaimed_bytes_total{{rule="{RULE_NAME}"}}', RANDOM_BYTES),
                                      ('imagegc_runs_total{trigger="signal",result="success"}', 1),
                                      ("imagegc_run_duration_seconds_count", 2)):
                found = problems.wait(f"scraped {selector} >= {minimum} after the deletion",
                                      at_least(selector, minimum), 15)
                if found:
                    log(f"  {selector} = {found[0]:.0f}")
            problems.wait(f"scraped {rule_bytes} to drop below {RANDOM_BYTES} after the deletion",
                          below(rule_bytes, RANDOM_BYTES), 15)

    # End to end: builds leave dangling images, the scraped figure follows, a tag takes it back.
    dangling = 'imagegc_reclaimable_bytes{category="dangling"}'

    def settled():
        current = daemon.value("imagegc_reclaimable_bytes", {"category": "dangling"})
        return current is not None and scraped(dangling) == current and (current,)

    # 1. A tag moved by a build.
    (before,) = wait_until("the scraped dangling figure to equal the daemon's", settled, 60)
    moved = build_moving_tag(f"{tag_prefix}:moved")
    log(f"built {moved}: dangling (its tag moved on); {dangling} was {before:.0f}")
    risen = problems.wait(f"scraped {dangling} to rise by {RANDOM_BYTES} after a build moved a tag",
                          at_least(dangling, before + RANDOM_BYTES), 60)
    if risen:
        log(f"  rose to {risen[0]:.0f}")
        engine.run("tag", moved, f"{tag_prefix}:retagged")
        cleanup.push("remove the retagged image", lambda: engine.remove(f"{tag_prefix}:retagged"))
        fallen = problems.wait(f"scraped {dangling} to fall back once the image is tagged again",
                               below(dangling, before + RANDOM_BYTES), 60)
        if fallen:
            log(f"  tagged again: back to {fallen[0]:.0f}")

    # 2. An untagged build.
    (before,) = wait_until("the scraped dangling figure to equal the daemon's", settled, 60)
    untagged = engine.build(random_dockerfile())
    cleanup.push(f"remove {untagged}", lambda: engine.remove(untagged))
    log(f"built {untagged} without a tag; {dangling} was {before:.0f}")
    risen = problems.wait(f"scraped {dangling} to rise by {RANDOM_BYTES} after an untagged build "
                          f"(DOCKER_BUILDKIT=0 docker build of FROM busybox + RUN, no -t)",
                          at_least(dangling, before + RANDOM_BYTES), 60)
    if risen:
        log(f"  rose to {risen[0]:.0f}")

    # By now Prometheus has scraped for a while: what still has no data will not get any.
    problems.run(evaluate_dashboard, prometheus, dashboard, 30)
    problems.run(evaluate_rules, prometheus, rule_count(args.source_dir), 60)
    problems.raise_any()


def check_fleet(args, cleanup, workdir):
    prometheus_binary = tool("prometheus")
    first = Engine(engine_host())
    dashboard = load_dashboard(args.source_dir)
    script = os.path.join(args.source_dir, "scripts/private-engine.sh")

    # Two more private engines, started side by side.
    engine_dirs = [os.path.join(workdir, f"engine{index}") for index in (1, 2)]
    starts = []
    for engine_dir in engine_dirs:
        os.makedirs(engine_dir)
        cleanup.push(f"stop the engine in {engine_dir}",
                     lambda d=engine_dir: subprocess.run([script, "stop", d], timeout=60, check=False))
        starts.append(subprocess.Popen([script, "start", engine_dir], stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True))
    hosts = []
    for engine_dir, start in zip(engine_dirs, starts):
        out, err = start.communicate(timeout=120)
        if start.returncode != 0:
            raise Failure(f"private-engine.sh start {engine_dir} failed:\n{err}\n{tail(engine_dir + '/dockerd.log')}")
        hosts.append(out.strip().splitlines()[-1])
        log(f"started a private engine at {hosts[-1]}")
    engines = [first] + [Engine(host) for host in hosts]
    # Different contents, so each host's figures differ.
    engines[1].build(random_dockerfile(), tag="imagegc-fleet:one")

    daemons = [Daemon(cleanup, args.imagegc, engine.host, DRY_RUN_POLICY, os.path.join(workdir, f"daemon{index}"),
                      f"imagegc{index}") for index, engine in enumerate(engines)]
    addresses = [daemon.address for daemon in daemons]
    prometheus = Prometheus(cleanup, prometheus_binary, addresses, os.path.join(workdir, "prometheus"))

    # The host variable's query lists the three daemons.
    listed = wait_until("the host variable to list three instances", lambda: (lambda v: len(v) >= 3 and v)(
        prometheus.api("/api/v1/label/instance/values", **{"match[]": "imagegc_build_info"})), 60)
    if sorted(listed) != sorted(addresses):
        raise Failure(f"label_values(imagegc_build_info, instance) is {listed}, expected {addresses}")
    log(f"host variable: {listed}")

    # The fleet panels add the hosts up: with every host, and with a multi-select of two.
    hosts_expr = panel_query(dashboard, "Hosts")
    layers_expr = panel_query(dashboard, "Layers")
    for selection in (addresses, addresses[1:]):
        # What Grafana substitutes for All, and for a multi-select of some hosts: regex-escaped, with
        # the backslashes doubled for a PromQL string.
        host_regex = ".*" if selection == addresses else \
            "(" + "|".join(re.escape(a).replace("\\", "\\\\") for a in selection) + ")"
        count_query = substitute(hosts_expr, {"host": host_regex})
        layers_query = substitute(layers_expr, {"host": host_regex})
        own = [daemons[addresses.index(a)].value("imagegc_layers_bytes") for a in selection]
        if not all(own):
            raise Failure(f"imagegc_layers_bytes per daemon: {own}, expected every one above 0")
        wait_until(f"the fleet panels over host={host_regex} to add up {len(selection)} hosts",
                   lambda: prometheus.scalar(count_query) == len(selection)
                   and prometheus.scalar(layers_query) == sum(own), 60)
        log(f"host={host_regex}: Hosts = {len(selection)}, Layers = {sum(own):.0f} = "
            + " + ".join(f"{value:.0f}" for value in own))
    if len(set(daemons[i].value("imagegc_layers_bytes") for i in range(3))) < 2:
        raise Failure("every host reports the same imagegc_layers_bytes although one engine holds one more image")
    fleet = row_queries(dashboard, "Fleet")
    evaluate_dashboard(prometheus, dashboard, 60, fleet)
    log(f"the {len(fleet)} queries of the Fleet row return data")


CHECKS = {
    "rules": check_rules,
    "dashboard": check_dashboard,
    "metrics": check_metrics,
    "prometheus": check_prometheus,
    "fleet": check_fleet,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("check", choices=sorted(CHECKS))
    parser.add_argument("--imagegc", help="the imagegc binary")
    parser.add_argument("--source-dir", default=os.path.normpath(os.path.join(os.path.dirname(__file__), "../..")))
    args = parser.parse_args()
    if args.check in ("metrics", "prometheus", "fleet") and not (args.imagegc and os.access(args.imagegc, os.X_OK)):
        print(f"FAIL: the imagegc binary {args.imagegc!r} is missing", flush=True)
        return 1

    def terminate(signal_number, frame):
        raise SystemExit(f"stopped by signal {signal_number}")

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    cleanup = Cleanup()
    workdir = tempfile.mkdtemp(prefix=f"imagegc-monitoring-{args.check}.")
    # Private engines keep root-owned files and mounts: remove the directory only once they stopped.
    cleanup.push(f"remove {workdir}", lambda: shutil.rmtree(workdir, ignore_errors=True))
    started = time.monotonic()
    try:
        CHECKS[args.check](args, cleanup, workdir)
    except Skip as reason:
        print(f"SKIP: {reason}", flush=True)
        return SKIP
    except Failure as error:
        print(f"FAIL: {error}", flush=True)
        return 1
    finally:
        # A second signal must not cut the clean-up short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        cleanup.run()
    print(f"PASS: {args.check} ({time.monotonic() - started:.1f}s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
