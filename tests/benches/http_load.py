#!/usr/bin/env python3
"""Throughput and latency of the release binary measured from outside with
wrk: keep-alive, 2 threads, 16 connections, 10 s per run, the load generator
on the same cores as the service (as a small VM would have it).

    cargo build --release
    python3 tests/benches/http_load.py                    # SQLite and PostgreSQL
    python3 tests/benches/http_load.py --backend sqlite --duration 5

Needs `wrk` (Debian package) and, for PostgreSQL, the server at
TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres); a
fresh database is created for the run and dropped after. Prints one
Markdown table per backend: requests per second, p50 and p99 latency, and
each run's throughput as a fraction of /healthz in the same run (the HTTP
layer's ceiling on this machine).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PHRASES = ["Buy milk", "Write report", "Call the plumber", "Review pull request",
           "Plan the sprint", "Book flights", "Pay the rent", "Water the plants"]
TAGS = ["work", "home", "errands", "health", "finance"]
# Search + filter + sort over the 1 000 seeded tasks.
FILTERED = "search=report&status=pending&tags=work&sort_by=due_at&sort_order=asc&limit=100"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(method: str, url: str, body: dict | None = None, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data, headers, method=method), timeout=30) as r:
        return json.loads(r.read() or b"null")


def signup(base: str) -> str:
    email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
    return call("POST", f"{base}/api/auth/signup",
                {"email": email, "password": "a long benchmark password", "name": "Bench"})["token"]


def seed(base: str, token: str, count: int) -> None:
    rng = random.Random(7)
    for n in range(count):
        task = {
            "title": f"{rng.choice(PHRASES)} {n}",
            "description": "seeded for the HTTP benchmark",
            "priority": rng.choice(["low", "medium", "high", "urgent"]),
            "tags": rng.sample(TAGS, rng.randint(1, 2)),
        }
        if rng.random() < 6 / 7:
            task["due_at"] = f"2027-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00Z"
        created = call("POST", f"{base}/api/v1/tasks", task, token)
        if rng.random() < 0.3:
            call("POST", f"{base}/api/v1/tasks/{created['id']}/complete", None, token)


LUA_CREATE = """
local tokens = {%s}
local n = 0
request = function()
  n = n + 1
  local token = tokens[(n %% #tokens) + 1]
  local body = '{"title":"Load ' .. n .. '","priority":"high","tags":["work"]}'
  return wrk.format("POST", "/api/v1/tasks",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
"""

LUA_GET = """
wrk.headers["Authorization"] = "Bearer %s"
"""


def wrk(url: str, duration: int, script: str | None = None) -> dict:
    args = ["wrk", "-t2", "-c16", f"-d{duration}s", "--latency", url]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        if script:
            lua.write(script)
    if script:
        args[1:1] = ["-s", lua.name]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    os.unlink(lua.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    percentiles = {int(p): to_ms(v, u) for p, v, u in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50": percentiles[50], "p99": percentiles[99],
            "non2xx": int(errors.group(1)) if errors else 0, "socket_errors": socket_errors.group(1) if socket_errors else ""}


def to_ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_backend(binary: Path, backend: str, duration: int) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    workdir = Path(tempfile.mkdtemp(prefix="taskstream-load-"))
    admin = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    dbname = f"taskstream_load_{uuid.uuid4().hex[:10]}"
    if backend == "postgres":
        subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {dbname}"], check=True)
        database_url = f"{admin.rsplit('/', 1)[0]}/{dbname}"
    else:
        database_url = f"sqlite://{workdir}/load.db"
    env = {**os.environ, "PORT": str(port), "DATABASE_URL": database_url, "LOG_LEVEL": "warning",
           "STATIC_DIR": str(REPO / "static"), "SIGNUP_PER_ADDRESS_PER_HOUR": "1000"}
    service = subprocess.Popen([str(binary)], cwd=workdir, env=env, stdout=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{base}/readyz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        owner = signup(base)
        seed(base, owner, 1000)
        matches = call("GET", f"{base}/api/v1/tasks?{FILTERED}", token=owner)["total"]
        users = [signup(base) for _ in range(16)]
        runs = [
            ("`/healthz` (the ceiling)", f"{base}/healthz", None),
            ("static asset (`/app.js`)", f"{base}/app.js", None),
            ("list 100 of 1 000 tasks", f"{base}/api/v1/tasks?limit=100", LUA_GET % owner),
            (f"search + filter + sort ({matches} matches)", f"{base}/api/v1/tasks?{FILTERED}", LUA_GET % owner),
            ("create, 16 users", base, LUA_CREATE % ", ".join(f'"{t}"' for t in users)),
            ("create, one user", base, LUA_CREATE % f'"{owner}"'),
        ]
        print(f"\n### {backend}: wrk -t2 -c16 -d{duration}s, keep-alive\n")
        print("| request | req/s | p50 ms | p99 ms | p99/p50 | of /healthz |")
        print("|---|---:|---:|---:|---:|---:|")
        ceiling = None
        for label, url, script in runs:
            result = wrk(url, duration, script)
            ceiling = ceiling or result["rps"]
            problems = ""
            if result["non2xx"] or result["socket_errors"]:
                problems = f" ({result['non2xx']} non-2xx; socket errors: {result['socket_errors'] or 'none'})"
            print(f"| {label}{problems} | {result['rps']:,.0f} | {result['p50']:.2f} | {result['p99']:.2f} | "
                  f"{result['p99'] / result['p50']:.1f} | {result['rps'] / ceiling:.0%} |", flush=True)
    finally:
        service.terminate()
        service.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
        if backend == "postgres":
            subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)"], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", type=Path, default=Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "release" / "taskstream")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is missing: apt-get install wrk", file=sys.stderr)
        return 2
    if not args.bin.is_file():
        print(f"{args.bin} is missing: cargo build --release", file=sys.stderr)
        return 2
    for backend in (["sqlite", "postgres"] if args.backend == "both" else [args.backend]):
        run_backend(args.bin, backend, args.duration)
    return 0


if __name__ == "__main__":
    sys.exit(main())
