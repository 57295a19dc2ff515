"""Kafka from Maven Central: the jars, the broker's config, its storage, its command line.

No Kafka tarball and no Docker image: ``resources/kafka-pom.xml`` names the broker's
artifacts, ``mvn dependency:copy-dependencies`` copies them once into a cache shared by
every clone on the machine, and the broker runs as ``java -cp "libs/*" kafka.Kafka``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from string import Template

from cli.processes import StackError, locked

POM = "kafka-pom.xml"
LOG4J2 = "kafka-log4j2.xml"
SERVER_PROPERTIES = "kafka-server.properties"
MARKER = ".driftline-complete"
MIN_JAVA = 17
#: Bounded heap: a development broker, on a 2-core machine shared with everything else.
HEAP = ["-Xms256m", "-Xmx1g"]


def resource(name: str) -> str:
    return resources.files("cli").joinpath("resources", name).read_text(encoding="utf-8")


def kafka_version(pom: str | None = None) -> str:
    """The ``kafka.version`` property of the pom: the one place the version is written."""
    root = ET.fromstring(pom if pom is not None else resource(POM))  # noqa: S314 - our own file
    node = root.find("{http://maven.apache.org/POM/4.0.0}properties/"
                     "{http://maven.apache.org/POM/4.0.0}kafka.version")
    if node is None or not (node.text or "").strip():
        raise StackError("kafka: resources/kafka-pom.xml names no kafka.version")
    return (node.text or "").strip()


def java_major(version_output: str) -> int | None:
    """17 from 'openjdk version "17.0.15" ...', 8 from 'java version "1.8.0_402"'."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def require_java(service: str = "kafka") -> str:
    java = shutil.which("java")
    if java is None:
        raise StackError(f"{service}: java is not installed (Kafka needs Java {MIN_JAVA}+; "
                         f"apt-get install openjdk-17-jre-headless, or scripts/bootstrap.sh)")
    probe = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)  # noqa: S603
    major = java_major(probe.stderr + probe.stdout)
    if major is None or major < MIN_JAVA:
        raise StackError(f"{service}: {java} is Java {major or '?'}; Kafka needs Java "
                         f"{MIN_JAVA} or newer")
    return java


def cache_dir(cache_root: Path, version: str) -> Path:
    return cache_root / f"kafka-{version}"


def ensure_jars(cache_root: Path, say: Callable[[str], None]) -> Path:
    """The directory of the broker's jars, fetched with Maven unless the cache has them.

    The marker holds a hash of the pom, so a changed pom (another log4j, say) fetches anew,
    and a fetch that died half-way (no marker) is never used.
    """
    pom = resource(POM)
    version = kafka_version(pom)
    key = hashlib.sha256(pom.encode()).hexdigest()
    home = cache_dir(cache_root, version)
    libs = home / "libs"
    if _marker(libs) == key:
        return libs
    with locked(home / ".lock"):
        if _marker(libs) == key:  # another `up` fetched them while we waited
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise StackError("kafka: mvn is not installed and the Kafka jars are not cached "
                             f"in {libs} (apt-get install maven, or scripts/bootstrap.sh)")
        say(f"downloading Kafka {version} jars from Maven Central into {libs} ...")
        (home / "pom.xml").write_text(pom)
        staging = home / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            done = subprocess.run(  # noqa: S603
                [mvn, "-q", "-B", "-ntp", "-Dstyle.color=never", "-f", str(home / "pom.xml"),
                 "dependency:copy-dependencies", f"-DoutputDirectory={staging}",
                 "-DincludeScope=runtime"],
                capture_output=True, text=True, timeout=900, cwd=home)
        except subprocess.TimeoutExpired as exc:
            raise StackError("kafka: downloading the Kafka jars with Maven took over 15 min") \
                from exc
        jars = sorted(staging.glob("*.jar")) if staging.is_dir() else []
        if done.returncode != 0 or not jars:
            output = (done.stdout + done.stderr).splitlines()
            reason = next((line.removeprefix("[ERROR] ").strip() for line in output
                           if line.startswith("[ERROR]")), f"exit code {done.returncode}")
            raise StackError(f"kafka: downloading the Kafka {version} jars with Maven failed: "
                             f"{reason}", output[-15:])
        (staging / MARKER).write_text(key)
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)
    return libs


def _marker(libs: Path) -> str | None:
    try:
        return (libs / MARKER).read_text().strip()
    except OSError:
        return None


def render_server_properties(*, host: str, broker_port: int, controller_port: int,
                             log_dirs: Path) -> str:
    return Template(resource(SERVER_PROPERTIES)).substitute(
        host=host, broker_port=broker_port, controller_port=controller_port,
        log_dirs=str(log_dirs))


def write_config(home: Path, *, host: str, broker_port: int, controller_port: int,
                 log_dirs: Path) -> Path:
    """Render server.properties and log4j2.xml into ``home``; returns the properties path.
    Rendered on every start, so a changed port or template takes effect."""
    properties = home / "server.properties"
    properties.write_text(render_server_properties(
        host=host, broker_port=broker_port, controller_port=controller_port,
        log_dirs=log_dirs))
    (home / "log4j2.xml").write_text(resource(LOG4J2))
    return properties


def new_cluster_id() -> str:
    """A cluster id as Kafka's ``Uuid.randomUuid()`` makes one (22 chars of URL-safe base64,
    never the reserved all-zero/metadata ids, never starting with '-'), without paying for a
    JVM start to ask StorageTool for it."""
    while True:
        raw = uuid.uuid4().bytes
        if raw in (bytes(16), bytes(15) + b"\x01"):
            continue
        text = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def format_storage(libs: Path, properties: Path, data_dir: Path) -> bool:
    """Format the KRaft storage once per data dir; False if it already was."""
    if (data_dir / "meta.properties").exists():
        return False
    java = require_java()
    done = subprocess.run(  # noqa: S603
        [java, *HEAP[:1], "-cp", f"{libs}/*", "kafka.tools.StorageTool", "format",
         "-t", new_cluster_id(), "-c", str(properties)],
        capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).splitlines()
        reason = output[-1] if output else f"exit code {done.returncode}"
        raise StackError(f"kafka: formatting the storage in {data_dir} failed: {reason}",
                         output[-15:])
    return True


def broker_command(libs: Path, properties: Path, home: Path) -> list[str]:
    java = shutil.which("java") or "java"
    return [
        java, *HEAP, "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dkafka.logs.dir={home}",
        f"-Dlog4j2.configurationFile={home / 'log4j2.xml'}",
        "-cp", f"{libs}/*", "kafka.Kafka", str(properties),
    ]
