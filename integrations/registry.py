"""The MLflow model registry as the loop uses it: aliases and tags, never stages.

``champion`` names the version serving production; on promotion the version it named keeps
the alias ``previous_champion`` (so ``driftline model rollback`` can restore it), and both
versions get tags recording when, why and with what evidence.

Only ``mlflow-skinny`` (plus scikit-learn to load the sklearn flavour) is needed here; mlflow
is imported when a registry is made, not when this module is. Each call is a span when
tracing is on, and the client's REST requests carry its context (``observability.mlflow_headers``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from observability.tracing import traced

CHAMPION = "champion"
PREVIOUS = "previous_champion"
#: set on a version once a promotion decision about it was made (so it is not made twice)
DECISION_TAG = "driftline.promotion_event_id"
#: MLflow caps a tag value at a few thousand characters
MAX_TAG = 4500


class UnknownModel(LookupError):
    """No registered model of that name, or no such version of it."""


class NothingToRollBack(LookupError):
    """The model has no ``previous_champion`` to restore."""


#: MLflow's answers for a name or version that cannot exist or does not
_MISSING = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


@dataclass(frozen=True)
class Version:
    name: str
    version: str
    run_id: str | None
    tags: dict[str, str]


class ModelRegistry:
    def __init__(self, tracking_uri: str) -> None:
        import os

        # MLflow's client retries a failed request 7 times with doubling waits (minutes when
        # the server is down); callers here wait out an outage themselves (the promotion
        # agent holds its job, the API answers 503), so fail fast unless told otherwise
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
        import mlflow
        from mlflow import MlflowClient

        mlflow.set_tracking_uri(tracking_uri)
        self.tracking_uri = tracking_uri
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    # -- reading ----------------------------------------------------------------------------
    @traced("mlflow alias")
    def alias(self, name: str, alias: str) -> Version | None:
        from mlflow.exceptions import MlflowException

        try:
            mv = self.client.get_model_version_by_alias(name, alias)
        except MlflowException as exc:
            if exc.error_code in _MISSING:
                return None
            raise
        return Version(mv.name, str(mv.version), mv.run_id, dict(mv.tags or {}))

    @traced("mlflow version")
    def version(self, name: str, version: str) -> Version:
        mv = self.client.get_model_version(name, version)
        return Version(mv.name, str(mv.version), mv.run_id, dict(mv.tags or {}))

    @traced("mlflow require")
    def require(self, name: str, version: str | None = None) -> Version | None:
        """Raise :class:`UnknownModel` unless the model (and ``version``) exists."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
        except MlflowException as exc:
            if exc.error_code in _MISSING:
                raise UnknownModel(f"no registered model {name!r}") from None
            raise
        if version is None:
            return None
        try:
            return self.version(name, version)
        except MlflowException as exc:
            if exc.error_code in _MISSING:
                raise UnknownModel(f"{name!r} has no version {version!r}") from None
            raise

    @traced("mlflow load model")
    def load(self, name: str, version: str) -> Any:
        """The fitted sklearn model of a version.

        Read from the sklearn flavour's files directly: ``mlflow.sklearn`` imports pandas,
        which mlflow-skinny does not bring. The registry is ours and written by our trainer,
        which is what makes unpickling its artifacts acceptable.
        """
        import tempfile
        from pathlib import Path

        import mlflow.artifacts
        import yaml

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{version}", dst_path=tmp,
                tracking_uri=self.tracking_uri))
            flavor = yaml.safe_load((path / "MLmodel").read_text(encoding="utf-8"))["flavors"]["sklearn"]
            fmt = flavor.get("serialization_format", "cloudpickle")
            if fmt in ("cloudpickle", "pickle"):
                import cloudpickle

                with (path / flavor["pickled_model"]).open("rb") as fh:
                    return cloudpickle.load(fh)  # noqa: S301 - see above
        import mlflow.sklearn  # another format (skops): let the flavour load it

        return mlflow.sklearn.load_model(f"models:/{name}/{version}")

    @traced("mlflow run params")
    def run_params(self, run_id: str) -> dict[str, str]:
        return dict(self.client.get_run(run_id).data.params)

    @traced("mlflow download artifact")
    def download_run_artifact(self, run_id: str, path: str, dst: str) -> str:
        return self.client.download_artifacts(run_id, path, dst)

    # -- writing ----------------------------------------------------------------------------
    @traced("mlflow tag version")
    def tag(self, name: str, version: str, tags: dict[str, Any]) -> None:
        for key, value in tags.items():
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
            self.client.set_model_version_tag(name, version, key, text[:MAX_TAG])

    @traced("mlflow promote")
    def promote(self, name: str, candidate: str, evidence: dict[str, Any]) -> str | None:
        """Move ``champion`` to ``candidate``; the old champion keeps ``previous_champion``.
        Returns the previous champion's version (None if there was none)."""
        now = datetime.now(UTC).isoformat()
        previous = self.alias(name, CHAMPION)
        if previous is not None and previous.version != candidate:
            self.client.set_registered_model_alias(name, PREVIOUS, previous.version)
            self.tag(name, previous.version, {"driftline.retired_at": now,
                                              "driftline.replaced_by": candidate})
        self.client.set_registered_model_alias(name, CHAMPION, candidate)
        self.tag(name, candidate, {"driftline.promoted_at": now, **evidence})
        return previous.version if previous is not None else None

    @traced("mlflow rollback")
    def rollback(self, name: str) -> tuple[str, str]:
        """Point ``champion`` back at ``previous_champion``; returns (from, to) versions.

        Raises :class:`UnknownModel` or :class:`NothingToRollBack` (both LookupErrors)."""
        self.require(name)
        current = self.alias(name, CHAMPION)
        previous = self.alias(name, PREVIOUS)
        if previous is None:
            raise NothingToRollBack(f"{name} has no '{PREVIOUS}' alias to roll back to")
        now = datetime.now(UTC).isoformat()
        self.client.set_registered_model_alias(name, CHAMPION, previous.version)
        self.client.delete_registered_model_alias(name, PREVIOUS)
        self.tag(name, previous.version, {"driftline.restored_at": now})
        if current is not None:
            self.tag(name, current.version, {"driftline.rolled_back_at": now,
                                             "driftline.rolled_back_to": previous.version})
        return (current.version if current is not None else "", previous.version)

    @traced("mlflow set champion")
    def set_champion(self, name: str, version: str) -> None:
        self.client.set_registered_model_alias(name, CHAMPION, version)
        self.tag(name, version, {"driftline.promoted_at": datetime.now(UTC).isoformat(),
                                 "driftline.decision": "bootstrap"})


def mlflow_transient(exc: BaseException) -> bool:
    """MLflow unreachable or answering 5xx/429 (its client reports both as MlflowException
    with the HTTP failure in the text); a missing model or a bad request is not."""
    import requests

    if isinstance(exc, requests.ConnectionError | requests.Timeout | ConnectionError
                  | TimeoutError):
        return True
    try:
        from mlflow.exceptions import MlflowException
    except ImportError:  # pragma: no cover - mlflow-skinny is a dependency
        return False
    if isinstance(exc, MlflowException):
        if exc.error_code in ("TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED"):
            return True
        text = str(exc)
        return any(mark in text for mark in (
            "Max retries exceeded", "failed with exception", "Connection refused",
            "Response code 5", "status code 5", "Read timed out", "RemoteDisconnected"))
    cause = exc.__cause__
    return cause is not None and cause is not exc and mlflow_transient(cause)
