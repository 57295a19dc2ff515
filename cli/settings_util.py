"""Loading settings at a CLI edge: a bad variable is a one-line error, not a traceback."""

from __future__ import annotations

from pydantic import ValidationError
from pydantic_settings import SettingsError

from cli.errors import BadInput
from settings import Settings, get_settings


def load_settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "__".join(str(part) for part in first["loc"]).upper()
        raise BadInput(f"setting {where}: {first['msg']}") from None
    except SettingsError as exc:  # e.g. DRIFT__MODELS that is not JSON
        raise BadInput(f"settings: {exc}"
                       + (f" ({exc.__cause__})" if exc.__cause__ else "")) from None
