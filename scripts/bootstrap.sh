#!/usr/bin/env bash
# Make a fresh clone on a fresh Debian machine ready to develop and test driftline:
#   - Java 17+, Maven and PostgreSQL from Debian's packages (what `driftline stack up` runs),
#   - Chromium from Debian's packages (the browser tests drive it with Playwright: Playwright's
#     own browser download cannot reach its host from every machine, Debian's mirror can),
#   - uv (from PyPI) and the project's environment from uv.lock (.venv, dev extras).
# Idempotent and quiet: it installs only what is missing (running `apt-get update` only then)
# and prints nothing on success. Then: `uv run driftline stack up`.
set -euo pipefail

UV_VERSION="0.13.8"
PYTHON_VERSION="3.11"
MIN_JAVA=17

cd "$(dirname "${BASH_SOURCE[0]}")/.."
log="$(mktemp -t driftline-bootstrap.XXXXXX)"
trap 'rm -f "$log"' EXIT

die() {
    if [[ -s "$log" ]]; then
        tail -n 20 "$log" | sed 's/^/  | /' >&2
    fi
    echo "bootstrap: error: $*" >&2
    exit 1
}

java_major() {
    # 17 from 'openjdk version "17.0.15"', 8 from 'java version "1.8.0_402"'; 0 if unknown.
    java -version 2>&1 | sed -n 's/.*version "\(1\.\)\{0,1\}\([0-9]*\).*/\2/p' | head -n 1 | grep . || echo 0
}

# -- Debian packages ------------------------------------------------------------------------
packages=()
if ! command -v java >/dev/null 2>&1 || (( $(java_major) < MIN_JAVA )); then
    packages+=(java)
fi
command -v mvn >/dev/null 2>&1 || packages+=(maven)
if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
    packages+=(postgresql)
fi
[[ -x /usr/bin/chromium ]] || packages+=(chromium)

if (( ${#packages[@]} )); then
    command -v apt-get >/dev/null 2>&1 || die "missing ${packages[*]} and no apt-get to install them (Debian only)"
    sudo=()
    if [[ "$(id -u)" != 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "missing ${packages[*]}; installing needs root (or sudo)"
        sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -q >>"$log" 2>&1 || die "apt-get update failed"
    names=()
    for package in "${packages[@]}"; do
        if [[ "$package" == java ]]; then
            # Debian 12 ships openjdk-17; a newer Debian's default JRE is newer still, which
            # Kafka 4 runs on just as well.
            if apt-cache show openjdk-17-jre-headless >/dev/null 2>&1; then
                names+=(openjdk-17-jre-headless)
            else
                names+=(default-jre-headless)
            fi
        else
            names+=("$package")
        fi
    done
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${names[@]}" >>"$log" 2>&1 \
        || die "apt-get install ${names[*]} failed"
    (( $(java_major) >= MIN_JAVA )) || die "java is still older than $MIN_JAVA after installing ${names[*]}"
fi

# -- uv and the Python environment ----------------------------------------------------------
uv=(uv)
if ! command -v uv >/dev/null 2>&1; then
    python=$(command -v python3 || command -v python || true)
    [[ -n "$python" ]] || die "neither uv nor python3 is installed"
    # Debian's own Python refuses pip installs outside a venv (PEP 668); uv is one static
    # binary in a wheel, so installing it there anyway is harmless.
    "$python" -m pip install -q "uv==$UV_VERSION" >>"$log" 2>&1 \
        || "$python" -m pip install -q --break-system-packages "uv==$UV_VERSION" >>"$log" 2>&1 \
        || die "pip install uv==$UV_VERSION failed"
    # pip may have put the uv binary somewhere off PATH (~/.local/bin); the module finds it.
    command -v uv >/dev/null 2>&1 || uv=("$python" -m uv)
fi

# --compile-bytecode: the packages' .pyc files are written once, here. Without them a
# machine with PYTHONDONTWRITEBYTECODE set (this kind of machine has it) compiles scikit-learn,
# SciPy and pandas from source in every process River's import pulls them into: every worker,
# CLI command and test subprocess paid ≈ 4.5 s more to start (7.0 → 2.6 s to import the agents).
"${uv[@]}" sync --frozen --extra dev -p "$PYTHON_VERSION" -q --compile-bytecode >>"$log" 2>&1 \
    || die "uv sync --frozen --extra dev -p $PYTHON_VERSION --compile-bytecode failed"
