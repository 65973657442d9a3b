"""Shared pieces of the deployment checks: the repository, the chart rendered
by Helm's own engine, the taskstream binary and PostgreSQL."""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import helm_python as helm
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "taskstream"
HERE = Path(__file__).resolve().parent

RELEASE = "taskstream"
NAMESPACE = "tasks"


def manifests(values: dict) -> dict[str, str]:
    """Renders the chart as `helm template` would: template path → text."""
    chart = helm.Chart.load(str(CHART))
    return chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def render(values: dict | None = None, *, file: Path | None = None) -> list[dict]:
    """The rendered manifests as objects (NOTES.txt left out)."""
    merged: dict = {}
    if file is not None:
        merged = yaml.safe_load(file.read_text()) or {}
    deep_merge(merged, values or {})
    docs: list[dict] = []
    for path, text in sorted(manifests(merged).items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                docs.append(doc)
    return docs


def notes(values: dict) -> str:
    return next(text for path, text in manifests(values).items() if path.endswith("NOTES.txt"))


def deep_merge(into: dict, extra: dict) -> dict:
    """Merges `extra` into `into` (which it returns); `extra` is left as it
    was, so shared values such as DB can be merged again and again."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            deep_merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)
    return into


def only(docs: list[dict], kind: str, name: str | None = None) -> dict:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {[d['metadata']['name'] for d in found]}"
    return found[0]


def kinds(docs: list[dict]) -> list[str]:
    return sorted(d["kind"] for d in docs)


# A database URL for the chart's default values: the one value it requires.
DB = {"database": {"url": "postgres://taskstream:secret@postgres.db.svc:5432/taskstream"}}
PRODUCTION = HERE / "values-production.yaml"
LOCAL = CHART / "values-local.yaml"


@pytest.fixture(scope="session")
def binary() -> Path:
    path = Path(os.environ.get("TASKSTREAM_BIN", REPO / "target" / "debug" / "taskstream"))
    assert path.is_file(), f"build the service first (cargo build), or set TASKSTREAM_BIN: {path} is missing"
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, headers: dict | None = None, timeout: float = 5.0) -> tuple[int, dict, bytes]:
    return call(urllib.request.Request(url, headers=headers or {}), timeout)


def post(url: str, body: bytes, headers: dict | None = None, timeout: float = 5.0) -> tuple[int, dict, bytes]:
    headers = {"Content-Type": "application/json", **(headers or {})}
    return call(urllib.request.Request(url, data=body, method="POST", headers=headers), timeout)


def call(request: urllib.request.Request, timeout: float) -> tuple[int, dict, bytes]:
    """Status, lower-cased headers and body, for any status."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def wait_ready(process: subprocess.Popen, url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"the service exited with {process.returncode}:\n{out}\n{err}")
        try:
            if get(url, timeout=1.0)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} not ready within {timeout} s")


def stop(process: subprocess.Popen, timeout: float = 15.0) -> tuple[int, str, str]:
    """SIGTERM, as Kubernetes sends it; the exit code and the output."""
    if process.poll() is None:
        process.terminate()
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"no exit within {timeout} s of SIGTERM:\n{out}\n{err}")
    return process.returncode, out, err


@pytest.fixture
def postgres_database():
    """A fresh, empty database on the test PostgreSQL; dropped afterwards."""
    admin = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    name = f"taskstream_deploy_{uuid.uuid4().hex[:12]}"
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True)
    base = admin.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=True)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]
