"""Kafka's config, version, cluster id and jar cache, without starting a broker."""

from __future__ import annotations

import base64
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from stack import kafkadist
from stack.processes import StackError


def properties(text: str) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    return {key.strip(): value.strip() for key, value in pairs}


def test_server_properties_is_a_loopback_kraft_node_with_driftlines_settings() -> None:
    text = kafkadist.render_server_properties(
        host="127.0.0.1", broker_port=29092, controller_port=29093, log_dirs=Path("/s/data"))
    props = properties(text)
    assert "$" not in text
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:29093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:29092"
    assert props["log.dirs"] == "/s/data"
    assert props["auto.create.topics.enable"] == "false"
    assert props["num.partitions"] == "4"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"


def test_write_config_renders_both_files(tmp_path: Path) -> None:
    path = kafkadist.write_config(tmp_path, host="127.0.0.1", broker_port=1, controller_port=2,
                                  log_dirs=tmp_path / "data")
    assert properties(path.read_text())["listeners"].endswith("127.0.0.1:2")
    assert (tmp_path / "log4j2.xml").read_text() == kafkadist.resource(kafkadist.LOG4J2)


def test_log4j2_writes_a_bounded_file_in_the_logs_dir_at_info() -> None:
    root = ET.fromstring(kafkadist.resource(kafkadist.LOG4J2))
    appender = root.find("Appenders/RollingFile")
    assert appender is not None
    assert appender.get("fileName") == "${sys:kafka.logs.dir}/server.log"
    assert root.find("Appenders/Console") is None
    assert root.find("Loggers/Root").get("level") == "INFO"  # type: ignore[union-attr]
    levels = {node.get("name"): node.get("level") for node in root.iter("Logger")}
    assert set(levels.values()) == {"WARN"}


def test_the_pom_is_the_one_place_the_kafka_version_is_named() -> None:
    pom = kafkadist.resource(kafkadist.POM)
    assert kafkadist.kafka_version(pom) == "4.1.1"
    for artifact in ("kafka_2.13", "slf4j-api", "log4j-slf4j2-impl", "log4j-core"):
        assert f"<artifactId>{artifact}</artifactId>" in pom
    with pytest.raises(StackError, match="kafka.version"):
        kafkadist.kafka_version('<project xmlns="http://maven.apache.org/POM/4.0.0"/>')


@pytest.mark.parametrize(("output", "major"), [
    ('openjdk version "17.0.15" 2025-04-15', 17),
    ('openjdk version "21" 2023-09-19', 21),
    ('java version "1.8.0_402"', 8),
    ("nonsense", None),
])
def test_java_major(output: str, major: int | None) -> None:
    assert kafkadist.java_major(output) == major


def test_cluster_ids_look_like_kafkas() -> None:
    for _ in range(200):
        cid = kafkadist.new_cluster_id()
        assert len(cid) == 22 and not cid.startswith("-")
        assert len(base64.urlsafe_b64decode(cid + "==")) == 16


def test_broker_command_bounds_the_heap_and_points_log4j_at_the_data_dir(tmp_path: Path) -> None:
    argv = kafkadist.broker_command(tmp_path / "libs", tmp_path / "server.properties", tmp_path)
    assert "-Xmx1g" in argv and "-Xms256m" in argv
    assert f"-Dkafka.logs.dir={tmp_path}" in argv
    assert f"-Dlog4j2.configurationFile={tmp_path / 'log4j2.xml'}" in argv
    assert argv[-2:] == ["kafka.Kafka", str(tmp_path / "server.properties")]


# -- the jar cache, with a fake `mvn` on PATH --------------------------------------------------


def fake_mvn(bin_dir: Path, body: str) -> Path:
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "mvn"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


COPYING_MVN = """
echo called >> "$(dirname "$0")/calls"
for arg in "$@"; do case "$arg" in -DoutputDirectory=*) out="${arg#-DoutputDirectory=}";; esac; done
mkdir -p "$out" && touch "$out/kafka_2.13-4.1.1.jar" "$out/kafka-clients-4.1.1.jar"
"""


def test_jars_are_fetched_once_and_then_come_from_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    fake_mvn(bin_dir, COPYING_MVN)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    said: list[str] = []
    libs = kafkadist.ensure_jars(tmp_path / "cache", said.append)
    assert libs == tmp_path / "cache" / "kafka-4.1.1" / "libs"
    assert sorted(p.name for p in libs.glob("*.jar")) == ["kafka-clients-4.1.1.jar",
                                                         "kafka_2.13-4.1.1.jar"]
    assert (libs / kafkadist.MARKER).exists()
    assert len(said) == 1 and "downloading Kafka 4.1.1" in said[0]
    # Second time: no Maven at all (not even on PATH) and nothing said.
    monkeypatch.setenv("PATH", "/nonexistent")
    assert kafkadist.ensure_jars(tmp_path / "cache", said.append) == libs
    assert (bin_dir / "calls").read_text().count("called") == 1 and len(said) == 1


def test_a_half_fetched_cache_without_marker_is_fetched_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    libs = tmp_path / "cache" / "kafka-4.1.1" / "libs"
    libs.mkdir(parents=True)
    (libs / "truncated.jar").write_bytes(b"")
    fake_mvn(tmp_path / "bin", COPYING_MVN)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    kafkadist.ensure_jars(tmp_path / "cache", lambda _: None)
    assert not (libs / "truncated.jar").exists() and (libs / kafkadist.MARKER).exists()


def test_missing_maven_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(StackError, match=r"^kafka: mvn is not installed"):
        kafkadist.ensure_jars(tmp_path / "cache", lambda _: None)


def test_a_failed_download_gives_mavens_reason_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_mvn(tmp_path / "bin", 'echo "[INFO] hello"\n'
             'echo "[ERROR] Failed to execute goal: Could not transfer artifact"\nexit 1\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    with pytest.raises(StackError) as caught:
        kafkadist.ensure_jars(tmp_path / "cache", lambda _: None)
    assert caught.value.message == (
        "kafka: downloading the Kafka 4.1.1 jars with Maven failed: "
        "Failed to execute goal: Could not transfer artifact")
    assert not (tmp_path / "cache" / "kafka-4.1.1" / "libs").exists()


def test_missing_java_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(StackError, match=r"^kafka: java is not installed"):
        kafkadist.require_java()


def test_format_storage_runs_once_per_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "meta.properties").write_text("cluster.id=x\n")
    # Already formatted: returns without running java (the libs dir does not even exist).
    assert kafkadist.format_storage(tmp_path / "no-libs", tmp_path / "p", data) is False
