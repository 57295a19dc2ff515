"""Kafka from Maven Central: the jars, the config, the storage, the broker as a service.

No Kafka tarball and no Docker image: ``resources/kafka-pom.xml`` names the broker's
artifacts, ``mvn dependency:copy-dependencies`` copies them once into a cache shared by
every clone on the machine, and the broker runs as ``java -cp "libs/*" kafka.Kafka``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re
import shutil
import subprocess
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from string import Template

from stack.processes import StackError, accepts, locked, tail
from stack.services import HOST, LOOPBACK_NAMES, Spawned

POM = "kafka-pom.xml"
LOG4J2 = "kafka-log4j2.xml"
SERVER_PROPERTIES = "kafka-server.properties"
MARKER = ".driftline-complete"
MIN_JAVA = 17
#: Bounded heap: a development broker, on a 2-core machine shared with everything else.
HEAP = ["-Xms256m", "-Xmx1g"]


def resource(name: str) -> str:
    return resources.files("stack").joinpath("resources", name).read_text(encoding="utf-8")


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


class Kafka(Spawned):
    """Kafka in KRaft mode: one JVM that is broker and controller, from Maven Central jars."""

    name = "kafka"

    @property
    def address(self) -> str:
        return f"{HOST}:{self.config.kafka_port}"

    @property
    def controller_port(self) -> int:
        return self.config.kafka_port + 1

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def log(self) -> Path:
        return self.home / "server.log"

    @property
    def output(self) -> Path:
        return self.home / "kafka.out"

    def ports(self) -> list[int]:
        return [self.config.kafka_port, self.controller_port]

    def env(self) -> dict[str, str]:
        return {"KAFKA__BROKER": f"kafka://{self.config.kafka_host}:{self.config.kafka_port}"}

    def preflight(self) -> None:
        if self.config.kafka_host not in LOOPBACK_NAMES:
            raise StackError(f"kafka: KAFKA__BROKER host {self.config.kafka_host!r} is not "
                             f"127.0.0.1 or localhost; the local stack listens on loopback only")
        if self.controller_port > 65535:
            raise StackError(f"kafka: port {self.config.kafka_port} leaves no room for the "
                             f"controller port (+1)")
        require_java(self.name)

    def prepare(self) -> None:
        self.libs = ensure_jars(self.config.cache_dir, self.say)
        self.properties = write_config(
            self.home, host=HOST, broker_port=self.config.kafka_port,
            controller_port=self.controller_port, log_dirs=self.data_dir)
        format_storage(self.libs, self.properties, self.data_dir)
        self.output.write_bytes(b"")

    def command(self) -> list[str]:
        return broker_command(self.libs, self.properties, self.home)

    def failure_log(self) -> Path:
        # The JVM's own complaints (bad flags, a missing class) land in kafka.out, which is
        # emptied on every start and otherwise stays empty; the broker's go to server.log.
        return self.output if tail(self.output) else self.log

    def probe(self) -> bool:
        if not accepts(HOST, self.config.kafka_port):
            return False
        return kafka_metadata_ok(self.address)


def kafka_metadata_ok(bootstrap: str, timeout: float = 5.0) -> bool:
    """Whether the broker answers a metadata request (a listening socket is not enough:
    the broker accepts connections before it has joined its own KRaft quorum)."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL + 1)  # refused connections while starting are expected

    async def ask() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap,
                                    request_timeout_ms=int(timeout * 1000))
        try:
            await asyncio.wait_for(admin.start(), timeout)
            await asyncio.wait_for(admin.list_topics(), timeout)
            return True
        finally:
            await admin.close()

    try:
        return asyncio.run(ask())
    except (TimeoutError, KafkaError, OSError):
        return False
    finally:
        quiet.setLevel(level)
