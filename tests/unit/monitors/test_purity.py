"""monitors/ is pure like drift/: the state machines load no framework, network, database or
settings module, so they run the same on a faust table and on a dict."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import monitors

#: river itself imports pandas and sqlalchemy (river.stream), so those are checked by source
#: below, not by what ends up loaded
FORBIDDEN_LOADED = ("faust", "mode", "aiokafka", "httpx", "pydantic", "settings", "faust_app",
                    "storage", "streams", "agents", "tables", "integrations", "api", "cli")


def test_importing_monitors_loads_no_framework_io_or_settings_module() -> None:
    names = [m.name for m in pkgutil.iter_modules(monitors.__path__, "monitors.")]
    assert len(names) >= 6
    code = (f"import json, sys\nfor name in {names!r}: __import__(name)\n"
            f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            f"{FORBIDDEN_LOADED!r})))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout
    assert json.loads(loaded) == []


def test_monitors_import_only_drift_schemas_and_computation_libraries() -> None:
    from tests.unit.test_architecture import imports_of

    allowed = {"monitors", "drift", "schemas", "numpy", "orjson", "river"}
    found = imports_of("monitors")
    third_party = {name for name in found if name not in sys.stdlib_module_names}
    assert third_party <= allowed, sorted(third_party - allowed)
