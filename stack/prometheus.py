"""Prometheus for the local stack: built once per machine from its Go module, scraping the
worker's and the API's ``/metrics`` and evaluating driftline's shipped alert rules.

The machines this runs on reach package registries only, so there is no release tarball;
Debian's ``prometheus`` package is 2.42, a major version behind the compose file's
``prom/prometheus``. So ``go install`` builds ``prometheus`` and ``promtool`` of exactly the
version the compose file runs (:data:`VERSION`; a unit test keeps the two equal) into a cache
shared by every clone on the machine, keyed by version, like Kafka's jars: minutes once, then
nothing. The build leaves out the cloud service discoveries (``remove_all_sd``: Kubernetes,
AWS, Azure, GCE, … are most of the code); static, file and HTTP discovery stay.

The service's config is rendered from the shipped ``docker/prometheus/prometheus.yml``, with
the same job names and rule files, so what the stack evaluates is what a deployment does;
only the targets (this machine's ``WEB_PORT`` and ``API__PORT``) and the intervals differ.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from stack.processes import StackError, locked, tail
from stack.services import HOST, Say, Spawned, StackConfig

#: The compose file's ``prom/prometheus`` tag, without the ``v``.
VERSION = "3.16.0"
MODULE = "github.com/prometheus/prometheus"
TOOLS = ("prometheus", "promtool")
BUILD_TAGS = "remove_all_sd"
LDFLAGS = f"-s -w -X github.com/prometheus/common/version.Version={VERSION}"
MARKER = ".driftline-complete"
#: A cold build took ~7 minutes on 2 busy cores; give a much busier machine room.
BUILD_TIMEOUT = 3600.0

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "docker" / "prometheus"
#: The jobs of the shipped config, and which port of the local stack each one scrapes.
JOBS = ("driftline-worker", "driftline-api", "prometheus")


def module_version(version: str = VERSION) -> str:
    """Prometheus 3.x.y is the Go module v0.3xx.y: '3.16.0' -> 'v0.316.0'."""
    major, minor, patch = (int(part) for part in version.split("."))
    return f"v0.{major * 100 + minor}.{patch}"


def build_key() -> str:
    """What the cached binaries were built from; another one builds anew."""
    return hashlib.sha256(f"{MODULE}@{module_version()}|{BUILD_TAGS}|{LDFLAGS}".encode()).hexdigest()


def cache_dir(cache_root: Path, version: str = VERSION) -> Path:
    return cache_root / f"prometheus-{version}"


def find_go() -> str | None:
    """``go`` on PATH, else where the official Go distribution installs it."""
    found = shutil.which("go")
    if found is None and os.access("/usr/local/go/bin/go", os.X_OK):
        found = "/usr/local/go/bin/go"
    return found


def ensure_binaries(cache_root: Path, say: Callable[[str], None]) -> Path:
    """The directory holding ``prometheus`` and ``promtool``, built unless the cache has them.

    The marker holds :func:`build_key`, so a build that died half-way (no marker) or one of
    another version or flags is never used; a lock keeps two clones from building at once.
    """
    home = cache_dir(cache_root)
    bin_dir = home / "bin"
    key = build_key()
    if _marker(bin_dir) == key:
        return bin_dir
    with locked(home / ".lock"):
        if _marker(bin_dir) == key:  # another process built them while we waited
            return bin_dir
        go = find_go()
        if go is None:
            raise StackError(f"prometheus: go is not installed and Prometheus {VERSION} is not "
                             f"cached in {bin_dir}; building it needs Go 1.26 or newer")
        say(f"building Prometheus {VERSION} and promtool from {MODULE}@{module_version()} "
            f"into {bin_dir} (once per machine; minutes) ...")
        staging = home / "bin.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        log = home / "build.log"
        env = {**os.environ, "GOBIN": str(staging), "CGO_ENABLED": "0", "GOFLAGS": ""}
        command = [go, "install", "-trimpath", "-tags", BUILD_TAGS, "-ldflags", LDFLAGS,
                   *(f"{MODULE}/cmd/{tool}@{module_version()}" for tool in TOOLS)]
        begun = time.monotonic()
        with log.open("wb") as out, tempfile.TemporaryDirectory() as scratch:
            try:
                # outside any module: `go install pkg@version` builds the module's own go.mod
                done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT,  # noqa: S603
                                      env=env, cwd=scratch, timeout=BUILD_TIMEOUT, check=False)
            except subprocess.TimeoutExpired as exc:
                raise StackError(f"prometheus: building Prometheus {VERSION} took over "
                                 f"{BUILD_TIMEOUT / 60:.0f} min; see {log}", tail(log)) from exc
        missing = [tool for tool in TOOLS if not (staging / tool).is_file()]
        if done.returncode != 0 or missing:
            lines = tail(log)
            reason = lines[-1].strip() if lines else f"exit code {done.returncode}"
            raise StackError(f"prometheus: go install of Prometheus {VERSION} failed: {reason}; "
                             f"see {log}", lines)
        (staging / MARKER).write_text(key)
        shutil.rmtree(bin_dir, ignore_errors=True)
        staging.rename(bin_dir)
        say(f"built Prometheus {VERSION} in {time.monotonic() - begun:.0f} s")
    return bin_dir


def _marker(bin_dir: Path) -> str | None:
    try:
        return (bin_dir / MARKER).read_text().strip()
    except OSError:
        return None


def duration(seconds: float) -> str:
    """A Prometheus duration: 15 -> '15s', 0.5 -> '500ms'."""
    millis = round(seconds * 1000)
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"


def load_shipped() -> dict[str, Any]:
    import yaml

    config: dict[str, Any] = yaml.safe_load((SHIPPED / "prometheus.yml").read_text())
    return config


def render_config(shipped: dict[str, Any], *, targets: dict[str, str], interval: float,
                  rule_files: Sequence[Path]) -> dict[str, Any]:
    """The shipped config with each job's targets replaced (``targets``: job -> host:port),
    both intervals set, and ``rule_files`` as absolute paths."""
    config = copy.deepcopy(shipped)
    jobs = [job["job_name"] for job in config.get("scrape_configs", [])]
    if sorted(jobs) != sorted(targets):
        raise StackError(f"prometheus: the shipped prometheus.yml scrapes {jobs}; the stack "
                         f"knows {sorted(targets)}")
    config.setdefault("global", {}).update(
        scrape_interval=duration(interval), evaluation_interval=duration(interval))
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
    config["rule_files"] = [str(path) for path in rule_files]
    return config


class Prometheus(Spawned):
    """A Prometheus server on loopback with driftline's scrape jobs and alert rules."""

    name = "prometheus"

    def __init__(self, config: StackConfig, say: Say, *,
                 rule_files: Sequence[Path] | None = None) -> None:
        super().__init__(config, say)
        #: default: the shipped rules, as the compose file mounts them
        self.rule_files = list(rule_files) if rule_files is not None else [
            SHIPPED / "rules" / "*.yml"]

    @property
    def address(self) -> str:
        return f"{HOST}:{self.config.prometheus_port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def config_file(self) -> Path:
        return self.home / "prometheus.yml"

    def env(self) -> dict[str, str]:
        return {}  # driftline only is scraped; nothing of it talks to Prometheus

    def preflight(self) -> None:
        if importlib.util.find_spec("yaml") is None:
            raise StackError(f"prometheus: the pyyaml package is not installed in this Python "
                             f"({sys.executable}); run uv sync")
        if not (SHIPPED / "prometheus.yml").is_file():
            raise StackError(f"prometheus: {SHIPPED / 'prometheus.yml'} is missing; the stack "
                             f"runs from a checkout of driftline")

    def up(self) -> str:
        # the one slow step happens once per machine, before the start timeout counts
        self.bin_dir = ensure_binaries(self.config.cache_dir, self.say)
        return super().up()

    def targets(self) -> dict[str, str]:
        return {"driftline-worker": f"{HOST}:{self.config.worker_web_port}",
                "driftline-api": f"{HOST}:{self.config.api_port}",
                "prometheus": self.address}

    def prepare(self) -> None:
        import yaml

        config = render_config(load_shipped(), targets=self.targets(),
                               interval=self.config.prometheus_scrape_seconds,
                               rule_files=self.rule_files)
        self.config_file.write_text(
            "# Rendered by `driftline stack up` from docker/prometheus/prometheus.yml; "
            "edits are overwritten.\n" + yaml.safe_dump(config, sort_keys=False))
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        return [str(self.bin_dir / "prometheus"), f"--config.file={self.config_file}",
                f"--storage.tsdb.path={self.data_dir}",
                # a development server: bounded disk whatever runs against it
                "--storage.tsdb.retention.time=7d", "--storage.tsdb.retention.size=1GB",
                f"--web.listen-address={self.address}",
                "--web.enable-lifecycle"]  # POST /-/reload picks up edited rules

    def probe(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as reply:  # noqa: S310
                return bool(reply.status == 200)
        except OSError:
            return False
