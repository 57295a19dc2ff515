"""PostgreSQL for the local stack: a dedicated Debian cluster, never the machine's others.

Debian's postgresql-common keeps clusters as ``<version>/<name>`` (config in
/etc/postgresql, data in /var/lib/postgresql, run as the ``postgres`` user), so the stack
makes its own, ``driftline`` (``driftline-<port>`` on a non-default port, so a test's cluster
never meets a developer's), starts and stops only that one with ``pg_ctlcluster``, and
creates the ``driftline`` role and database in it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from stack.processes import (
    Record,
    StackError,
    command_name,
    is_alive,
    port_is_free,
    port_owners,
    port_taken_message,
    start_time,
    tail,
)
from stack.services import HOST, Service, Status

DEFAULT_PORT = 55432
ROLE = DATABASE = PASSWORD = "driftline"  # noqa: S105 - a loopback-only dev database
PG_LIB = Path("/usr/lib/postgresql")
PG_ETC = Path("/etc/postgresql")
SOCKET_DIR = "/var/run/postgresql"

OVERRIDES = f"""# Written by `driftline stack up` on every start; edits are overwritten.
listen_addresses = '{HOST}'
unix_socket_directories = '{SOCKET_DIR}'
"""

#: Idempotent: psql's \gexec runs each generated statement, and none is generated when the
#: role or database exists. Names and password are the constants above (no user input).
#: CREATEDB lets the test suite make a database of its own per run on this local stack.
SETUP_SQL = """
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', 'driftline', 'driftline')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'driftline')\\gexec
SELECT format('ALTER ROLE %I CREATEDB', 'driftline')
 WHERE NOT (SELECT rolcreatedb FROM pg_roles WHERE rolname = 'driftline')\\gexec
SELECT format('CREATE DATABASE %I OWNER %I', 'driftline', 'driftline')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'driftline')\\gexec
"""


def cluster_name(port: int) -> str:
    return "driftline" if port == DEFAULT_PORT else f"driftline-{port}"


def installed_versions(pg_lib: Path = PG_LIB) -> list[str]:
    """Installed server major versions, oldest first ("15", "16", ...)."""
    if not pg_lib.is_dir():
        return []
    found = [d.name for d in pg_lib.iterdir()
             if d.name.isdigit() and (d / "bin" / "postgres").exists()]
    return sorted(found, key=int)


def pick_version(name: str, pg_lib: Path = PG_LIB, pg_etc: Path = PG_ETC) -> str | None:
    """The version that already holds cluster ``name``, else the newest installed one."""
    versions = installed_versions(pg_lib)
    for version in reversed(versions):
        if (pg_etc / version / name / "postgresql.conf").exists():
            return version
    return versions[-1] if versions else None


def database_url(port: int) -> str:
    return f"postgresql+psycopg://{ROLE}:{PASSWORD}@{HOST}:{port}/{DATABASE}"


def _run(argv: list[str], *, input: str | None = None, env: dict[str, str] | None = None,
         cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=600,  # noqa: S603
                          input=input, env=env, cwd=cwd)


def _why(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("E:", "Error", "FATAL", "ERROR"))]
    return (errors or lines or [f"exit code {done.returncode}"])[-1]


class Postgres(Service):
    name = "postgres"

    @property
    def port(self) -> int:
        return self.config.postgres_port

    @property
    def cluster(self) -> str:
        return cluster_name(self.port)

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def version(self) -> str | None:
        return pick_version(self.cluster)

    @property
    def data_dir(self) -> Path:
        version = self.version or "?"
        conf = PG_ETC / version / self.cluster / "postgresql.conf"
        try:
            match = re.search(r"^\s*data_directory\s*=\s*'([^']+)'", conf.read_text(), re.M)
        except OSError:
            match = None
        return Path(match.group(1)) if match else Path(f"/var/lib/postgresql/{version}/"
                                                       f"{self.cluster}")

    @property
    def server_log(self) -> Path:
        return Path(f"/var/log/postgresql/postgresql-{self.version}-{self.cluster}.log")

    def env(self) -> dict[str, str]:
        return {"DATABASE__URL": database_url(self.port)}

    def postmaster_pid(self) -> int | None:
        """The pid of the cluster's running server, from its postmaster.pid."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        # A stale file after a crash may name a pid the kernel has given to someone else.
        alive = start_time(pid) is not None and command_name(pid).startswith("postgres")
        return pid if alive else None

    def status(self) -> Status:
        record = self.record()
        ours = record is not None and is_alive(record)
        pid = self.postmaster_pid()
        note = "" if ours or pid is None else f"cluster {self.version}/{self.cluster} running, " \
                                               f"not started by this stack"
        if ours and record is not None:
            return Status(self.name, True, record.pid, record.address, record.data_dir)
        return Status(self.name, False, None, self.address, str(self.data_dir), note)

    def up(self) -> str:
        self._ensure_installed()
        version = self.version
        assert version is not None
        label = f"cluster {version}/{self.cluster}"
        record = self.record()
        if record is not None and is_alive(record):
            self.require_same_address(record)
        running = self.postmaster_pid()
        if record is not None and is_alive(record) and running == record.pid:
            self._setup_database(version)
            return f"already running (pid {record.pid}, {label}) at {self.address}"
        self.record_path.unlink(missing_ok=True)
        if running is not None:
            raise StackError(f"postgres: {label} is already running (pid {running}) but was not "
                             f"started by this stack; stop it with "
                             f"`pg_ctlcluster {version} {self.cluster} stop`")
        if not port_is_free(HOST, self.port):
            raise StackError(port_taken_message(self.name, self.port, port_owners(self.port)))
        begun = time.monotonic()
        if not (PG_ETC / version / self.cluster / "postgresql.conf").exists():
            self.say(f"creating PostgreSQL {label} on port {self.port} ...")
            done = _run(["pg_createcluster", "--start-conf=manual", "-p", str(self.port),
                         "-e", "UTF8", "--locale=C.UTF-8", version, self.cluster])
            if done.returncode != 0:
                raise StackError(f"postgres: pg_createcluster {version} {self.cluster} failed: "
                                 f"{_why(done)}")
        self._write_overrides(version)
        done = _run(["pg_ctlcluster", version, self.cluster, "start"])
        pid = self.postmaster_pid()
        if done.returncode != 0 or pid is None:
            log = tail(self.server_log)
            fatal = [line.partition("FATAL:")[2].strip() for line in log if "FATAL:" in line]
            reason = fatal[-1] if fatal else _why(done)
            raise StackError(f"postgres: pg_ctlcluster {version} {self.cluster} start failed: "
                             f"{reason}", log)
        started = start_time(pid)
        assert started is not None
        Record(self.name, pid, started, self.address, str(self.data_dir), str(self.server_log),
               {"version": version, "cluster": self.cluster}).save(self.record_path)
        self._setup_database(version)
        return f"started (pid {pid}, {label}) at {self.address} in " \
               f"{time.monotonic() - begun:.1f} s"

    def _write_overrides(self, version: str) -> None:
        """Our settings in the cluster's conf.d (which Debian's postgresql.conf includes),
        rewritten on every start. Not via ``pg_createcluster -o``: it leaves 127.0.0.1
        unquoted (it looks like a number), which the server then cannot parse."""
        conf_d = PG_ETC / version / self.cluster / "conf.d"
        conf_d.mkdir(exist_ok=True)
        (conf_d / "50-driftline.conf").write_text(OVERRIDES)

    def _ensure_installed(self) -> None:
        if shutil.which("pg_ctlcluster") and installed_versions():
            return
        apt = shutil.which("apt-get")
        if os.geteuid() != 0 or apt is None:
            raise StackError("postgres: PostgreSQL is not installed and cannot be installed here "
                             "(needs root and apt-get); run scripts/bootstrap.sh as root")
        self.say("installing PostgreSQL with apt-get ...")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = [apt, "install", "-y", "-q", "--no-install-recommends", "postgresql"]
        done = _run(install, env=env)
        if done.returncode != 0:  # a fresh machine has no package lists yet
            _run([apt, "update", "-q"], env=env)
            done = _run(install, env=env)
        if done.returncode != 0 or not installed_versions():
            raise StackError(f"postgres: apt-get install postgresql failed: {_why(done)}")

    def _setup_database(self, version: str) -> None:
        """Create the role and the database unless they exist, then log in as the URL says."""
        psql = [str(PG_LIB / version / "bin" / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                "-h", SOCKET_DIR, "-p", str(self.port), "-d", "postgres"]
        as_postgres = psql if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *psql]
        deadline = time.monotonic() + self.config.start_timeout
        while True:
            done = _run(as_postgres, input=SETUP_SQL, cwd="/")
            if done.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise StackError(f"postgres: creating role and database {DATABASE} failed: "
                                 f"{_why(done)}", tail(self.server_log))
            time.sleep(0.5)  # e.g. still in recovery after an unclean stop
        import psycopg

        try:
            with psycopg.connect(host=HOST, port=self.port, user=ROLE, password=PASSWORD,
                                 dbname=DATABASE, connect_timeout=10) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StackError(f"postgres: cannot log in as {ROLE} at {self.address}: {first}") \
                from exc

    def down(self, purge: bool = False) -> str:
        record = self.record()
        version = record.extra.get("version") if record else self.version
        cluster = record.extra.get("cluster", self.cluster) if record else self.cluster
        message = "not running"
        if record is not None and is_alive(record):
            done = _run(["pg_ctlcluster", str(version), cluster, "stop"])
            if done.returncode != 0 and is_alive(record):
                raise StackError(f"postgres: pg_ctlcluster {version} {cluster} stop failed: "
                                 f"{_why(done)}")
            message = f"stopped (pid {record.pid}, cluster {version}/{cluster})"
        self.record_path.unlink(missing_ok=True)
        if purge and version and (PG_ETC / version / cluster).exists():
            if self.postmaster_pid() is not None:
                raise StackError(f"postgres: cluster {version}/{cluster} is running but was not "
                                 f"started by this stack; not dropping it")
            done = _run(["pg_dropcluster", version, cluster])
            if done.returncode != 0:
                raise StackError(f"postgres: pg_dropcluster {version} {cluster} failed: "
                                 f"{_why(done)}")
            message += f"; dropped cluster {version}/{cluster}"
        if purge and version:
            # pg_dropcluster removes the files it made and leaves the directory if others
            # remain: our conf.d override is one, so the cluster's /etc folder would stay
            leftover = PG_ETC / str(version) / cluster
            if leftover.exists() and self.postmaster_pid() is None:
                shutil.rmtree(leftover)
        if purge and self.home.exists():
            shutil.rmtree(self.home)
        return message
