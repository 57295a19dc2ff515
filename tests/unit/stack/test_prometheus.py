"""The stack's optional Prometheus up to the point where the real binaries run: the version
the compose file pins, the build cache, the config rendered from the shipped one, and how
`stack up|down|status` treat an optional service."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cli.stack import stack
from stack import prometheus
from stack.manager import DEFAULT, selected
from stack.processes import Record, StackConfigError, StackError
from stack.services import StackConfig
from tests.unit.stack.test_cli import state  # noqa: F401 - fixture

REPO = Path(__file__).resolve().parents[3]


def test_the_built_version_is_the_one_the_compose_file_runs() -> None:
    compose = yaml.safe_load((REPO / "docker" / "docker-compose.yml").read_text())
    assert compose["services"]["prometheus"]["image"] == f"prom/prometheus:v{prometheus.VERSION}"


@pytest.mark.parametrize(("version", "module"), [
    ("3.16.0", "v0.316.0"), ("3.5.1", "v0.305.1"), ("3.0.0", "v0.300.0")])
def test_prometheus_3_versions_map_to_the_go_module_versions(version: str, module: str) -> None:
    assert prometheus.module_version(version) == module


@pytest.mark.parametrize(("seconds", "text"), [(15, "15s"), (1, "1s"), (0.5, "500ms"), (1.25, "1250ms")])
def test_durations(seconds: float, text: str) -> None:
    assert prometheus.duration(seconds) == text


def config(tmp_path: Path, **changes: object) -> StackConfig:
    base = StackConfig(stack_dir=tmp_path / "stack", cache_dir=tmp_path / "cache",
                       kafka_host="127.0.0.1", kafka_port=39092, postgres_port=55999,
                       mlflow_port=15999, smtp_port=11999, start_timeout=5.0,
                       prometheus_port=19999, prometheus_scrape_seconds=2.0,
                       worker_web_port=6999, api_port=8999)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_the_config_is_the_shipped_one_with_local_targets_intervals_and_rules(tmp_path: Path) -> None:
    service = prometheus.Prometheus(config(tmp_path), lambda _: None)
    service.home.mkdir(parents=True)
    service.prepare()
    rendered = yaml.safe_load(service.config_file.read_text())
    shipped = prometheus.load_shipped()
    jobs = {job["job_name"]: job for job in rendered["scrape_configs"]}
    assert list(jobs) == [job["job_name"] for job in shipped["scrape_configs"]]
    assert jobs["driftline-worker"]["static_configs"] == [{"targets": ["127.0.0.1:6999"]}]
    assert jobs["driftline-api"]["static_configs"] == [{"targets": ["127.0.0.1:8999"]}]
    assert jobs["prometheus"]["static_configs"] == [{"targets": ["127.0.0.1:19999"]}]
    assert rendered["global"]["scrape_interval"] == rendered["global"]["evaluation_interval"] == "2s"
    assert rendered["rule_files"] == [str(REPO / "docker" / "prometheus" / "rules" / "*.yml")]
    # the shipped config's rule files are the same directory, relative to the config
    assert shipped["rule_files"] == ["rules/*.yml"]


def test_a_shipped_job_the_stack_does_not_know_is_refused() -> None:
    shipped = {"scrape_configs": [{"job_name": "driftline-worker"}, {"job_name": "other"}]}
    with pytest.raises(StackError, match="scrapes"):
        prometheus.render_config(shipped, targets={"driftline-worker": "x:1"}, interval=1,
                                 rule_files=[])


def fake_go(bin_dir: Path, body: str) -> Path:
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "go"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


BUILDING_GO = """
echo "$@" >> "$(dirname "$0")/calls"
printf '#!/bin/sh\\necho prometheus\\n' > "$GOBIN/prometheus"
printf '#!/bin/sh\\necho promtool\\n' > "$GOBIN/promtool"
"""


def test_binaries_are_built_once_then_come_from_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    go = fake_go(tmp_path / "bin", BUILDING_GO)
    monkeypatch.setattr(prometheus, "find_go", lambda: str(go))
    said: list[str] = []
    bin_dir = prometheus.ensure_binaries(tmp_path / "cache", said.append)
    assert bin_dir == tmp_path / "cache" / f"prometheus-{prometheus.VERSION}" / "bin"
    assert (bin_dir / "prometheus").is_file() and (bin_dir / "promtool").is_file()
    (call,) = (tmp_path / "bin" / "calls").read_text().splitlines()
    assert call.split() == [
        "install", "-trimpath", "-tags", "remove_all_sd", "-ldflags", "-s", "-w", "-X",
        f"github.com/prometheus/common/version.Version={prometheus.VERSION}",
        f"github.com/prometheus/prometheus/cmd/prometheus@{prometheus.module_version()}",
        f"github.com/prometheus/prometheus/cmd/promtool@{prometheus.module_version()}"]
    assert "building Prometheus" in said[0]
    # second time: no Go at all and nothing said
    monkeypatch.setattr(prometheus, "find_go", lambda: None)
    assert prometheus.ensure_binaries(tmp_path / "cache", said.append) == bin_dir
    assert len(said) == 2


def test_a_build_that_died_half_way_is_built_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "cache" / f"prometheus-{prometheus.VERSION}" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "prometheus").write_bytes(b"")  # no promtool, no marker
    go = fake_go(tmp_path / "bin", BUILDING_GO)
    monkeypatch.setattr(prometheus, "find_go", lambda: str(go))
    prometheus.ensure_binaries(tmp_path / "cache", lambda _: None)
    assert (bin_dir / prometheus.MARKER).read_text() == prometheus.build_key()
    assert (bin_dir / "promtool").read_text().startswith("#!/bin/sh")


def test_no_go_and_no_cache_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prometheus, "find_go", lambda: None)
    with pytest.raises(StackError, match=r"^prometheus: go is not installed and Prometheus "):
        prometheus.ensure_binaries(tmp_path / "cache", lambda _: None)


def test_a_failed_build_gives_gos_last_line_and_keeps_no_binaries(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    go = fake_go(tmp_path / "bin", 'echo "go: downloading x"\n'
                 'echo "go: github.com/prometheus/prometheus@v0.316.0: reading module: 410 Gone"\n'
                 "exit 1\n")
    monkeypatch.setattr(prometheus, "find_go", lambda: str(go))
    with pytest.raises(StackError) as caught:
        prometheus.ensure_binaries(tmp_path / "cache", lambda _: None)
    assert caught.value.message.startswith(
        f"prometheus: go install of Prometheus {prometheus.VERSION} failed: "
        "go: github.com/prometheus/prometheus@v0.316.0: reading module: 410 Gone; see ")
    assert not (tmp_path / "cache" / f"prometheus-{prometheus.VERSION}" / "bin").exists()


# -- an optional service ----------------------------------------------------------------------

def test_prometheus_is_started_only_when_asked() -> None:
    assert "prometheus" not in DEFAULT
    assert selected(None) == list(DEFAULT)
    assert selected(None, "prometheus") == [*DEFAULT, "prometheus"]
    assert selected("kafka,prometheus") == ["kafka", "prometheus"]
    with pytest.raises(StackConfigError, match="^--with: unknown service redis"):
        selected(None, "redis")
    with pytest.raises(StackConfigError, match="^--with: not together with --only"):
        selected("kafka", "prometheus")


def test_down_and_status_include_prometheus_once_up_recorded_it(
        state: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setenv("STACK__PROMETHEUS_PORT", "19998")
    runner = CliRunner()
    out = runner.invoke(stack, ["status"], catch_exceptions=False).stdout
    assert "prometheus" not in out
    # a record left by `up --with prometheus` whose process is gone
    Record("prometheus", 999999, 1, "127.0.0.1:19998", str(state / "prometheus" / "data"),
           "/dev/null", {}).save(state / "prometheus" / "process.json")
    lines = runner.invoke(stack, ["status"], catch_exceptions=False).stdout.splitlines()
    (row,) = [line.split() for line in lines if line.startswith("prometheus ")]
    assert row[:4] == ["prometheus", "stopped", "-", "127.0.0.1:19998"]
    assert runner.invoke(stack, ["status", "--check"]).exit_code == 1
    result = runner.invoke(stack, ["down", "--only", "prometheus"], catch_exceptions=False)
    assert result.stdout.splitlines() == ["prometheus not running"]
    assert not (state / "prometheus" / "process.json").exists()
