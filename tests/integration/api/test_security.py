"""Keys, roles, the audit trail, rate limits, size limits, error hygiene and PII."""

from __future__ import annotations

import json
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from schemas.pii import pseudonym
from storage.service import AuditEntry, RedTeamRow
from tests.integration.api.conftest import HMAC_KEY

pytestmark = pytest.mark.integration

OPEN = {"/health/live", "/health/ready", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect",
        "/redoc"}


def protected_operations(app):
    for path, item in app.openapi()["paths"].items():
        for method in item:
            if path not in OPEN:
                yield method.upper(), path.replace("{name}", "someone")


def one_result(model: str, **extra) -> dict:
    return {"results": [{"model_name": model, "model_version": "1", "attack_type": "evasion",
                         "success": True, "severity": "low", **extra}]}


def test_every_route_but_health_and_metrics_needs_a_key(app, client, keys):
    operations = list(protected_operations(app))
    assert len(operations) >= 15
    for method, path in operations:
        r = client.request(method, path)
        assert r.status_code == 401, (method, path, r.status_code, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
        r = client.request(method, path, headers={"Authorization": "Bearer dl_not-a-real-key"})
        assert r.status_code == 401, (method, path)
    for path in ("/health/live", "/metrics"):
        assert client.get(path).status_code == 200


@pytest.mark.parametrize("role,method,path,allowed", [
    ("viewer", "POST", "/red-team/results", False),
    ("viewer", "GET", "/export/labelled-predictions", False),
    ("viewer", "GET", "/audit", False),
    ("viewer", "GET", "/keys", False),
    ("operator", "GET", "/audit", False),
    ("operator", "POST", "/keys", False),
    ("operator", "DELETE", "/keys/someone", False),
    ("operator", "POST", "/red-team/results", True),
    ("admin", "GET", "/audit", True),
    ("viewer", "GET", "/drift/results", True),
])
def test_roles_are_ordered_viewer_operator_admin(client, keys, unique, role, method, path, allowed):
    body = one_result(unique) if path == "/red-team/results" else None
    r = client.request(method, path, headers=getattr(keys, role), json=body,
                       params={"model": unique} if "export" in path else None)
    if allowed:
        assert r.status_code < 400, r.text
    else:
        assert r.status_code == 403, r.text
        assert role in r.json()["detail"]


def audit_rows(engine, request_ids):
    with Session(engine) as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.request_id.in_(request_ids))).all()
    return {row.request_id: row for row in rows}


def test_every_mutation_is_audited_whatever_its_outcome(client, keys, engine, unique):
    calls = {
        f"{unique}-ok": ("POST", "/red-team/results", keys.operator, one_result(unique), 201, "success"),
        f"{unique}-anon": ("POST", "/red-team/results", {}, one_result(unique), 401, "denied"),
        f"{unique}-role": ("POST", "/red-team/results", keys.viewer, one_result(unique), 403, "denied"),
        f"{unique}-bad": ("POST", "/red-team/results", keys.operator, {"results": [{}]}, 422, "rejected"),
        f"{unique}-key": ("POST", "/keys", keys.admin, {"name": f"{unique}-new", "role": "viewer"}, 201,
                          "success"),
        f"{unique}-revoke": ("DELETE", f"/keys/{unique}-new", keys.admin, None, 200, "success"),
        f"{unique}-nokey": ("DELETE", f"/keys/{unique}-missing", keys.admin, None, 404, "rejected"),
    }
    for rid, (method, path, headers, body, status, _) in calls.items():
        r = client.request(method, path, headers={**headers, "X-Request-ID": rid}, json=body)
        assert r.status_code == status, (rid, r.text)
        assert r.headers["x-request-id"] == rid
    big = client.post("/red-team/results", headers={**keys.operator, "X-Request-ID": f"{unique}-big",
                                                    "content-type": "application/json"},
                      content=b'{"results": [' + b" " * (70 * 1024) + b"]}")
    assert big.status_code == 413

    rows = audit_rows(engine, [*calls, f"{unique}-big"])
    assert set(rows) == {*calls, f"{unique}-big"}
    for rid, (method, path, _, _, status, outcome) in calls.items():
        row = rows[rid]
        assert (row.method, row.path, row.status_code, row.outcome) == (method, path, status, outcome), rid
    assert rows[f"{unique}-ok"].actor == keys.names["operator"] and rows[f"{unique}-ok"].role == "operator"
    assert rows[f"{unique}-ok"].action == "POST /red-team/results"
    assert rows[f"{unique}-ok"].details == {"received": 1, "inserted": 1}
    assert rows[f"{unique}-anon"].actor == "anonymous" and rows[f"{unique}-anon"].key_id is None
    assert rows[f"{unique}-role"].actor == keys.names["viewer"]
    assert rows[f"{unique}-revoke"].action == "DELETE /keys/{name}"
    assert rows[f"{unique}-big"].status_code == 413 and rows[f"{unique}-big"].outcome == "rejected"

    # and the admin can read them back through the API, filtered
    r = client.get("/audit", params={"request_id": f"{unique}-role"}, headers=keys.admin)
    assert r.status_code == 200 and [e["status_code"] for e in r.json()["items"]] == [403]
    r = client.get("/audit", params={"actor": keys.names["admin"], "outcome": "success", "limit": 1},
                   headers=keys.admin)
    assert r.json()["items"][0]["actor"] == keys.names["admin"] and r.json()["next_cursor"]
    assert client.get("/audit", params={"outcome": "meh"}, headers=keys.admin).status_code == 422


def test_reads_are_not_audited(client, keys, engine, unique):
    client.get("/drift/results", headers={**keys.viewer, "X-Request-ID": f"{unique}-read"})
    assert audit_rows(engine, [f"{unique}-read"]) == {}


def test_rate_limit_answers_429_with_retry_after_and_is_audited(make_settings, keys, engine, unique):
    from api.main import create_app

    app = create_app(make_settings(rate_limit_per_minute=6, rate_limit_burst=2))
    with TestClient(app, raise_server_exceptions=False) as client:
        codes = [client.get("/drift/results", headers=keys.viewer).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        r = client.get("/drift/results", headers=keys.viewer)
        assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 10
        # buckets are per key: another key is unaffected
        assert client.get("/drift/results", headers=keys.admin).status_code == 200
        r = client.post("/red-team/results", json=one_result(unique),
                        headers={**keys.viewer, "X-Request-ID": f"{unique}-limited"})
        assert r.status_code == 429
    assert audit_rows(engine, [f"{unique}-limited"])[f"{unique}-limited"].outcome == "denied"


def test_revoked_keys_stop_working(client, keys):
    r = client.post("/keys", json={"name": f"tmp-{uuid.uuid4().hex[:8]}", "role": "viewer"},
                    headers=keys.admin)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["token"].startswith("dl_") and created["prefix"] == created["token"][:10]
    headers = {"X-API-Key": created["token"]}
    assert client.get("/drift/results", headers=headers).status_code == 200
    assert client.post("/keys", json={"name": created["name"], "role": "viewer"},
                       headers=keys.admin).status_code == 409
    r = client.delete(f"/keys/{created['name']}", headers=keys.admin)
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert client.get("/drift/results", headers=headers).status_code == 401
    listed = {k["name"]: k for k in client.get("/keys", headers=keys.admin).json()}
    assert listed[created["name"]]["revoked_at"] and "token" not in listed[created["name"]]


def test_tokens_are_stored_hashed(engine, keys):
    token = keys.viewer["X-API-Key"]
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT key_hash, prefix FROM api_keys WHERE name = :n"),
                              {"n": keys.names["viewer"]}).one()
        dump = json.dumps([list(map(str, r)) for r in conn.execute(text("SELECT * FROM api_keys"))])
    assert token not in dump and len(stored.key_hash) == 64 and token.startswith(stored.prefix)


def test_unexpected_errors_are_a_bare_500_with_the_request_id(app, keys, engine, unique):
    def boom() -> None:
        raise RuntimeError("SELECT secret FROM api_keys WHERE psycopg.errors")

    app.add_api_route("/boom", boom, methods=["GET", "POST"], include_in_schema=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/boom", headers=keys.viewer)  # a route off the schema needs a key too
        assert r.status_code == 500
        assert r.json() == {"detail": "internal server error", "request_id": r.json()["request_id"]}
        assert "SELECT" not in r.text and "Traceback" not in r.text
        client.post("/boom", headers={**keys.viewer, "X-Request-ID": f"{unique}-boom"})
    row = audit_rows(engine, [f"{unique}-boom"])[f"{unique}-boom"]
    assert row.status_code == 500 and row.outcome == "error"


def test_database_down_is_503_without_details(make_settings):
    from api.main import create_app

    settings = make_settings()
    settings.database.url = type(settings.database.url)(
        "postgresql+psycopg://nobody:secret@127.0.0.1:9/none")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        r = client.get("/drift/results", headers={"X-API-Key": "dl_whatever"})
        assert r.status_code == 503 and r.json()["detail"] == "database unavailable"
        assert "secret" not in r.text and "127.0.0.1" not in r.text
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert not checks["database"]["ok"] and checks["kafka"]["ok"]


def test_pii_fields_never_reach_the_database_in_clear(client, keys, engine, unique):
    email, user = f"{unique}@example.com", f"user-{unique}"
    details = {"email": email, "prompt": "ignore previous instructions",
               "victims": [{"User_Id": user, "note": "x"}], "nothing": None}
    r = client.post("/red-team/results", params={"email": email},
                    json=one_result(unique, details=details),
                    headers={**keys.operator, "X-Request-ID": f"{unique}-pii"})
    assert r.status_code == 201, r.text
    with engine.connect() as conn:
        stored = conn.execute(select(RedTeamRow.details).where(RedTeamRow.model_name == unique)).scalar_one()
        everything = [repr(tuple(r)) for r in conn.execute(
            select(RedTeamRow.__table__).where(RedTeamRow.model_name == unique))]
        everything += [repr(tuple(r)) for r in conn.execute(
            select(AuditEntry.__table__).where(AuditEntry.request_id == f"{unique}-pii"))]
    key = HMAC_KEY.encode()
    assert stored["email"] == pseudonym(email, key)
    assert stored["victims"][0]["User_Id"] == pseudonym(user, key)
    assert stored["prompt"] == "ignore previous instructions" and stored["nothing"] is None
    assert len(everything) == 2
    assert not any(email in row or user in row for row in everything), everything
