#!/usr/bin/env python3
"""Cold sync against a real dockerd: imagegc beside the engine's own response time and the docker
CLI, on the same images (scripts/bench.sh --real-engine runs it).

Starts a private engine with scripts/private-engine.sh, loads N images into it with one
`docker load` of an archive made here (each image: the busybox layer, a layer shared by a group
of ten, and one of its own; tagged), then, several times each, medians quoted:

- imagegc: `imagegc graph` (a full cold sync: list, and inspect and history of every image);
- the engine's own time: a minimal keep-alive client making the same requests one after another
  on one connection (the floor: what the engine needs to answer them);
- the docker CLI: `docker image ls -aq | xargs docker image inspect` and `docker system df`.
"""

import argparse
import hashlib
import http.client
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def layer_tar(files):
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(content))
    return data.getvalue()


def image_archive(count, path):
    """A `docker save` archive of `count` images sharing a base layer and group layers."""
    layers = {}

    def add_layer(files):
        blob = layer_tar(files)
        digest = hashlib.sha256(blob).hexdigest()
        layers[digest] = blob
        return digest

    base = add_layer({"base/os-release": b"bench base\n" * 64})
    groups = [add_layer({f"group/{g}": os.urandom(2048)}) for g in range(max(1, count // 10))]
    manifest = []
    configs = {}
    for n in range(count):
        chain = [base, groups[n % len(groups)], add_layer({f"app/{n}": os.urandom(512 + n % 4096)})]
        config = {
            "architecture": "amd64", "os": "linux",
            "created": "2023-11-14T22:13:20Z",
            "config": {"Cmd": ["sh"], "Labels": {"bench": str(n % 7)}},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{d}" for d in chain]},
            "history": [{"created": "2023-11-14T22:13:20Z", "created_by": f"step {i}"}
                        for i in range(len(chain))],
        }
        blob = json.dumps(config).encode()
        config_digest = hashlib.sha256(blob).hexdigest()
        configs[config_digest] = blob
        manifest.append({"Config": f"{config_digest}.json",
                         "RepoTags": [f"bench/app{n % 50}:v{n}"],
                         "Layers": [f"{d}/layer.tar" for d in chain]})
    with tarfile.open(path, "w") as tar:
        def add(name, blob):
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
        for digest, blob in layers.items():
            add(f"{digest}/layer.tar", blob)
        for digest, blob in configs.items():
            add(f"{digest}.json", blob)
        add("manifest.json", json.dumps(manifest).encode())


def minimal_client(socket_path):
    """The same requests as a cold sync, one after another on one keep-alive connection."""
    connection = UnixConnection(socket_path)

    def get(path):
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status}")
        return body

    started = time.monotonic()
    get("/_ping")
    get("/v1.41/containers/json?all=1")
    images = json.loads(get("/v1.41/images/json?all=1"))
    for image in images:
        name = urllib.parse.quote(image["Id"], safe="")
        get(f"/v1.41/images/{name}/json")
        get(f"/v1.41/images/{name}/history")
    elapsed = time.monotonic() - started
    connection.close()
    return elapsed, len(images)


def timed(command, env=None):
    started = time.monotonic()
    subprocess.run(["bash", "-o", "pipefail", "-c", command], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    imagegc = os.path.join(args.build_dir, "daemon", "imagegc")
    engine_script = os.path.join(args.source_dir, "scripts", "private-engine.sh")
    work = tempfile.mkdtemp(prefix="imagegc-bench-engine-")
    host = subprocess.run([engine_script, "start", work], check=True, capture_output=True,
                          text=True).stdout.strip().splitlines()[-1]
    env = dict(os.environ, DOCKER_HOST=host, DOCKER_CONFIG=work)
    try:
        archive = os.path.join(work, "images.tar")
        image_archive(args.images, archive)
        subprocess.run(["docker", "load", "-q", "-i", archive], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        socket_path = host[len("unix://"):]
        rows = {"imagegc": [], "engine": [], "cli": []}
        listed = 0
        for _ in range(args.runs):
            rows["imagegc"].append(timed(f"{imagegc} --host {host} --log-level warn graph "
                                         "--format table >/dev/null"))
            elapsed, listed = minimal_client(socket_path)
            rows["engine"].append(elapsed)
            rows["cli"].append(timed("docker image ls -aq --no-trunc | xargs docker image inspect "
                                     ">/dev/null && docker system df >/dev/null", env))
        medians = {key: statistics.median(values) for key, values in rows.items()}
        ratio = medians["imagegc"] / medians["engine"]
        text = (f"Real dockerd ({listed} images, `docker load`ed: a shared base layer, a layer per "
                f"group of ten, one of their own), medians of {args.runs} runs:\n\n"
                "| cold sync | wall |\n| --- | --- |\n"
                f"| imagegc (`imagegc graph`, whole process) | {medians['imagegc']:.2f} s |\n"
                f"| the engine's own time (one keep-alive connection, same requests) | "
                f"{medians['engine']:.2f} s |\n"
                f"| docker CLI (`image ls -aq \\| xargs image inspect` + `system df`) | "
                f"{medians['cli']:.2f} s |\n\n"
                f"imagegc / engine: {ratio:.2f} (target: at most 1.25); imagegc is "
                f"{'faster' if medians['imagegc'] < medians['cli'] else 'slower'} than the "
                "docker CLI.\n")
        with open(args.output, "w") as out:
            out.write(text)
        print(text)
    finally:
        subprocess.run([engine_script, "stop", work], check=False)
        subprocess.run(["rm", "-rf", work], check=False)


if __name__ == "__main__":
    sys.exit(main())
