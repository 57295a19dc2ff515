"""The probes an attacker ran against the API, replayed: each answers 4xx (never 500), and
every mutation among them leaves an audit row. Runs on both stores (see conftest)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from storage.models import LabelledPrediction
from storage.service import ApiKey, AuditEntry

pytestmark = pytest.mark.integration

PAGED = ["/drift/results", "/red-team/results", "/retrain/requests", "/retrain/jobs", "/promotions",
         "/audit"]


def audit_rows(engine, **where):
    with Session(engine) as session:
        stmt = select(AuditEntry)
        for column, value in where.items():
            stmt = stmt.where(getattr(AuditEntry, column) == value)
        return session.scalars(stmt).all()


def key_row(engine, name):
    with Session(engine) as session:
        return session.scalars(select(ApiKey).where(ApiKey.name == name)).one_or_none()


def one_result(model: str, **extra) -> dict:
    return {"results": [{"model_name": model, "model_version": "1", "attack_type": "evasion",
                         "success": True, "severity": "low", **extra}]}


# -- audit bypass -----------------------------------------------------------------------------

def test_nul_in_path_or_query_is_refused_at_the_edge_and_audited(client, keys, engine, unique):
    created = client.post("/keys", params={"note": "\x00"}, json={"name": f"{unique}-nul", "role": "admin"},
                          headers={**keys.admin, "X-Request-ID": f"{unique}-create"})
    assert created.status_code == 400, created.text
    assert key_row(engine, f"{unique}-nul") is None
    revoked = client.delete(f"/keys/{keys.names['viewer']}", params={"x": "\x00"},
                            headers={**keys.admin, "X-Request-ID": f"{unique}-revoke"})
    assert revoked.status_code == 400
    assert key_row(engine, keys.names["viewer"]).revoked_at is None
    for rid in (f"{unique}-create", f"{unique}-revoke"):
        (row,) = audit_rows(engine, request_id=rid)
        assert row.status_code == 400 and row.outcome == "rejected"
        assert "\x00" not in json.dumps(row.details) and "\\x00" in json.dumps(row.details)


@pytest.fixture
def refusing_audit(engine, store, unique):
    """The database refuses audit rows of one actor (a trigger): the audit log is unwritable
    for that caller, for real."""
    actor = f"{unique}-blocked"
    if store == "postgresql":
        ddl = [f"CREATE FUNCTION {unique}_refuse() RETURNS trigger AS $$ BEGIN "
               f"IF NEW.actor = '{actor}' THEN RAISE EXCEPTION 'audit refused'; END IF; "
               "RETURN NEW; END $$ LANGUAGE plpgsql",
               f"CREATE TRIGGER {unique}_refuse BEFORE INSERT ON audit_log FOR EACH ROW "
               f"EXECUTE FUNCTION {unique}_refuse()"]
        undo = [f"DROP TRIGGER {unique}_refuse ON audit_log", f"DROP FUNCTION {unique}_refuse()"]
    else:
        ddl = [f"CREATE TRIGGER {unique}_refuse BEFORE INSERT ON audit_log "
               f"WHEN NEW.actor = '{actor}' BEGIN SELECT RAISE(ABORT, 'audit refused'); END"]
        undo = [f"DROP TRIGGER {unique}_refuse"]
    with engine.begin() as conn:
        for statement in ddl:
            conn.execute(text(statement))
    yield actor
    with engine.begin() as conn:
        for statement in undo:
            conn.execute(text(statement))


def test_a_mutation_whose_audit_row_cannot_be_written_does_not_happen(client, engine, refusing_audit,
                                                                      unique):
    from storage.keys import create_key

    _, token = create_key(engine, refusing_audit, "admin")
    admin = {"Authorization": f"Bearer {token}"}
    r = client.post("/keys", json={"name": f"{unique}-ghost", "role": "admin"}, headers=admin)
    assert r.status_code == 503 and "audit" in r.json()["detail"], r.text
    assert key_row(engine, f"{unique}-ghost") is None
    r = client.delete(f"/keys/{refusing_audit}", headers=admin)
    assert r.status_code == 503
    assert key_row(engine, refusing_audit).revoked_at is None
    assert client.get("/keys", headers=admin).status_code == 200  # reads are not audited


# -- 500s a client could trigger --------------------------------------------------------------

def _cursor(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize("forged", [
    ["2026-01-01T00:00:00+00:00", 123], ["2026-01-01T00:00:00+00:00", [1]],
    ["2026-01-01T00:00:00+00:00", {"a": 1}], ["2026-01-01T00:00:00+00:00", 1.5],
    ["2026-01-01T00:00:00+00:00", True], ["0001-01-01T00:00:00+14:00", str(uuid.uuid4())],
    ["2026-01-01T00:00:00", str(uuid.uuid4())], [1, 2], ["x"], {"a": 1}, "[[[[", None,
])
def test_forged_cursors_are_422_on_every_paged_route(client, keys, forged):
    cursor = "%%%" if forged is None else _cursor(forged)
    for path in PAGED:
        r = client.get(path, params={"cursor": cursor}, headers=keys.admin)
        assert r.status_code == 422, (path, forged, r.text)


@pytest.mark.parametrize("body,why", [
    (b'{"results": [{"model_name": "M", "model_version": "1", "attack_type": "evasion", '
     b'"success": true, "severity": "low", "details": ' + b'{"a": ' * 500 + b"1" + b"}" * 500 + b"}]}",
     "nested"),
    (b'{"results": [{"model_name": "M", "model_version": "1", "attack_type": "evasion", '
     b'"success": true, "severity": "low", "details": {"x": "\\ud800"}}]}', "surrogate"),
    (b'{"results": [{"model_name": "M", "model_version": "1", "attack_type": "evasion", '
     b'"success": true, "severity": "low", "details": {"x": "a\\u0000b"}}]}', "NUL"),
    (b'{"results": [{"model_name": "M", "model_version": "1", "attack_type": "evasion", '
     b'"success": true, "severity": "low", "details": {"x": NaN}}]}', "NaN"),
    (b'{"results": [{"model_name": "M", "model_version": "1", "attack_type": "evasion", '
     b'"success": true, "severity": "low", "details": {"x": Infinity}}]}', "Infinity"),
    (b'{"results": [{"model_name": "M", "model_version": "1", "attack_type": "evasion", '
     b'"success": true, "severity": "low", "details": {"x": 1e400}}]}', "overflow"),
    (b'{"results": [{"model_name": "M", "model_version": "1", "attack_type": "evasion", '
     b'"success": true, "severity": "low", "event_id": "' + str(uuid.uuid4()).encode() +
     b'", "timestamp": "0001-01-01T00:00:00+14:00"}]}', "timestamp"),
    (b'[' * 30_000 + b']' * 30_000, "deep body"),
])
def test_hostile_red_team_bodies_are_422_and_audited(client, keys, engine, unique, body, why):
    rid = f"{unique}-{why.replace(' ', '-')}"
    r = client.post("/red-team/results", content=body.replace(b'"M"', f'"{unique}"'.encode()),
                    headers={**keys.operator, "content-type": "application/json", "X-Request-ID": rid})
    assert r.status_code == 422, (why, r.text)
    (row,) = audit_rows(engine, request_id=rid)
    assert row.status_code == 422 and row.outcome == "rejected"


def test_one_size_limit_per_record_the_topics_and_the_apis(make_client, keys, unique):
    client = make_client(api={"max_request_bytes": 4 * 1024 * 1024}, limits={"max_payload_bytes": 4096})
    r = client.post("/red-team/results", json=one_result(unique, details={"blob": "x" * 8000}),
                    headers=keys.operator)
    assert r.status_code == 422 and "LIMITS__MAX_PAYLOAD_BYTES" in r.text, r.text


def test_a_stored_nul_does_not_break_the_export(client, keys, seed, store, engine, unique, now):
    # written before validation refused NUL (PostgreSQL's json type keeps \u0000)
    row = dict(event_id=uuid.uuid4(), timestamp=now, model_name=unique, model_version="1",
               label_time=now + timedelta(minutes=1), prediction="a\x00b", probabilities=None,
               features={"city": "x\x00y", "n": 1.0}, label="b")
    seed(LabelledPrediction, [row])
    for fmt in ("csv", "parquet"):
        r = client.get("/export/labelled-predictions", params={"model": unique, "format": fmt},
                       headers=keys.operator)
        assert r.status_code == 200, (store, fmt, r.text)


def test_csv_cells_that_look_like_formulas_are_neutralised(client, keys, seed, unique, now):
    risky = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\ry"]
    seed(LabelledPrediction, [
        dict(event_id=uuid.uuid4(), timestamp=now + timedelta(seconds=i), model_name=unique,
             model_version="1", label_time=now, prediction=value, probabilities=None,
             features={"note": value, "n": -1.5}, label="ok")
        for i, value in enumerate(risky)])
    r = client.get("/export/labelled-predictions", params={"model": unique}, headers=keys.operator)
    assert r.status_code == 200
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["note"] for row in rows] == ["'" + v for v in risky]
    assert [row["prediction"] for row in rows] == ["'" + v for v in risky]
    assert {row["n"] for row in rows} == {"-1.5"}  # numbers stay numbers


# -- throttling, before authentication ------------------------------------------------------------

def test_failed_logins_are_throttled_per_address_before_any_lookup(make_client, engine, unique):
    client = make_client(api={"client_rate_limit_per_minute": 6, "client_rate_limit_burst": 5})
    codes = [client.get("/drift/results", headers={"X-API-Key": f"dl_wrong{i}"}).status_code
             for i in range(8)]
    assert codes == [401] * 5 + [429] * 3
    r = client.get("/drift/results", headers={"X-API-Key": "dl_wrong"})
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 10
    # health checks without a key share the address's bucket
    assert client.get("/health/ready").status_code == 429


def test_an_anonymous_flood_writes_a_bounded_number_of_audit_rows(make_client, engine, unique):
    client = make_client(api={"client_rate_limit_per_minute": 6, "client_rate_limit_burst": 5})
    for i in range(60):
        r = client.post("/red-team/results", json=one_result(unique),
                        headers={"X-Request-ID": f"{unique}-flood-{i}"})
        assert r.status_code in (401, 429)
    with Session(engine) as session:
        rows = session.scalars(select(AuditEntry).where(
            AuditEntry.request_id.like(f"{unique}-flood-%"))).all()
    assert sorted(r.status_code for r in rows) == [401] * 5 + [429]
    (limited,) = [r for r in rows if r.status_code == 429]
    assert limited.details["refused_since_last_row"] == 1 and limited.outcome == "denied"


def test_authentication_comes_before_the_body_is_parsed(client, unique):
    r = client.post("/red-team/results", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 401
    r = client.post("/red-team/results", content=b"{not json",
                    headers={"content-type": "application/json", "X-API-Key": "dl_nope"})
    assert r.status_code == 401


def test_secrets_and_pii_in_query_strings_are_not_audited_in_clear(client, keys, engine, unique):
    from schemas.pii import pseudonym
    from tests.integration.api.conftest import HMAC_KEY

    email = f"{unique}@example.com"
    r = client.post("/red-team/results", json=one_result(unique),
                    params={"api_key": "dl_secret-token", "email": email, "Token": "t0k", "page": "2"},
                    headers={**keys.operator, "X-Request-ID": f"{unique}-qs"})
    assert r.status_code == 201
    (row,) = audit_rows(engine, request_id=f"{unique}-qs")
    assert row.details["query"] == {"api_key": "[redacted]", "Token": "[redacted]", "page": "2",
                                    "email": pseudonym(email, HMAC_KEY.encode())}


def test_upload_comparisons_are_capped_and_the_excess_told_to_retry(app, client, keys):
    files = {"reference": ("r.csv", b"x\n1\n2\n3\n"), "current": ("c.csv", b"x\n1\n2\n3\n")}
    with app.state.uploads.claim() as first, app.state.uploads.claim() as second:
        assert first and second  # API__MAX_CONCURRENT_UPLOADS defaults to 2: both taken
        r = client.post("/drift/detect", files=files, headers=keys.viewer)
        assert r.status_code == 429 and r.headers["retry-after"] == "5"
    assert client.post("/drift/detect", files=files, headers=keys.viewer).status_code == 200


# -- what the responses say ---------------------------------------------------------------------

def test_redirects_are_relative_whatever_the_host_header(client, keys):
    r = client.get("/drift/results/", headers={**keys.viewer, "Host": "evil.example"},
                   follow_redirects=False)
    assert r.status_code in (307, 308) and r.headers["location"].startswith("/drift/results")


def test_the_docs_load_nothing_from_elsewhere(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text and "https://" not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert client.get(f"/static-offline-docs/{asset}").status_code == 200
    assert "https://" not in client.get("/redoc").text


def test_cors_is_off_unless_origins_are_configured(client, make_client):
    preflight = {"Origin": "https://ui.example", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "X-API-Key"}
    r = client.options("/drift/results", headers=preflight)
    assert "access-control-allow-origin" not in r.headers
    allowed = make_client(api={"cors_origins": ["https://ui.example"]})
    r = allowed.options("/drift/results", headers=preflight)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://ui.example"
    r = allowed.options("/drift/results", headers={**preflight, "Origin": "https://evil.example"})
    assert r.headers.get("access-control-allow-origin") != "https://evil.example"


def test_the_version_is_the_packages(client):
    from importlib import metadata

    assert client.get("/openapi.json").json()["info"]["version"] == metadata.version("driftline")


def test_the_app_refuses_bad_cors_settings():
    from pydantic import ValidationError

    from settings import ApiSettings

    with pytest.raises(ValidationError, match="CORS_ORIGINS"):
        ApiSettings(cors_origins=["https://ui.example/path"])
    assert ApiSettings(cors_origins="https://a.example, http://b.example:8080").cors_origins == [
        "https://a.example", "http://b.example:8080"]


def test_clients_get_bounded_buckets():
    from api.ratelimit import TokenBuckets, client_key

    buckets = TokenBuckets(60, 1, max_keys=100)
    for i in range(10_000):
        buckets.take(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    assert len(buckets) == 100
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff") == "2001:db8::/64"
    assert client_key("::ffff:10.0.0.1") == "10.0.0.1"
