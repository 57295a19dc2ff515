from __future__ import annotations

import pytest
from pydantic import ValidationError

from settings import Settings


def test_pii_fields_accept_a_comma_list_or_json_and_need_a_key(monkeypatch):
    monkeypatch.setenv("SECURITY__HMAC_KEY", "0123456789abcdef")
    monkeypatch.setenv("SECURITY__PII_FIELDS", "email, user_id")
    assert Settings().security.pii_fields == ["email", "user_id"]
    monkeypatch.setenv("SECURITY__PII_FIELDS", '["email"]')
    assert Settings().security.pii_fields == ["email"]
    monkeypatch.delenv("SECURITY__HMAC_KEY")
    with pytest.raises(ValidationError, match="HMAC_KEY"):
        Settings()
    monkeypatch.setenv("SECURITY__HMAC_KEY", "short")
    with pytest.raises(ValidationError, match="16 characters"):
        Settings()


def test_sslmode_is_passed_through_to_postgresql_urls_only(monkeypatch):
    monkeypatch.setenv("DATABASE__SSLMODE", "verify-full")
    monkeypatch.setenv("DATABASE__URL", "postgresql+psycopg://u:p@db:5432/x")
    assert Settings().database_url == "postgresql+psycopg://u:p@db:5432/x?sslmode=verify-full"
    monkeypatch.setenv("DATABASE__URL", "postgresql+psycopg://u:p@db/x?application_name=a")
    assert Settings().database_url.endswith("?application_name=a&sslmode=verify-full")
    monkeypatch.setenv("DATABASE__URL", "sqlite:///x.db")
    assert Settings().database_url == "sqlite:///x.db"
    monkeypatch.setenv("DATABASE__SSLMODE", "sometimes")
    with pytest.raises(ValidationError):
        Settings()


def test_page_sizes_must_be_consistent(monkeypatch):
    monkeypatch.setenv("API__DEFAULT_PAGE_SIZE", "500")
    monkeypatch.setenv("API__MAX_PAGE_SIZE", "100")
    with pytest.raises(ValidationError, match="DEFAULT_PAGE_SIZE"):
        Settings()


@pytest.mark.parametrize(("name", "value", "named"), [
    ("DRIFT__MODELS", '{"fraud": {"alert_k": 5}}', "DRIFT__MODELS['fraud']: alert_k (5)"),
    ("DRIFT__MODELS", '{"fraud": {"window_size": 3}}', "DRIFT__MODELS__FRAUD__WINDOW_SIZE"),
    ("DRIFT__MODELS", '{"fraud": {"windowsize": 3}}', "DRIFT__MODELS__FRAUD__WINDOWSIZE"),
    ("DRIFT__MODELS", "{bad", 'field "drift"'),
    ("DRIFT__MODELS", '{"fraud": {"shards": 0}}', "DRIFT__MODELS__FRAUD__SHARDS"),
    ("DRIFT__MODELS", '{"fraud": {"shards": 4096}}', "DRIFT__MODELS__FRAUD__SHARDS"),
    ("DRIFT__MODELS", '{"fraud": {"shards": 1000}}',
     "DRIFT__MODELS.fraud.shards is 1000, more than KAFKA__PARTITIONS"),
    ("DRIFT__SHARDS", "1000", "DRIFT__SHARDS is 1000, more than KAFKA__PARTITIONS"),
    ("DRIFT__MODELS", '{"fraud": {"sample_rate": 0}}', "DRIFT__MODELS__FRAUD__SAMPLE_RATE"),
    ("DRIFT__SAMPLE_RATE", "1.5", "DRIFT__SAMPLE_RATE"),
    ("DRIFT__FEATURE_BATCH_SIZE", "5000",
     "DRIFT__FEATURE_BATCH_SIZE (5000) must be at most a quarter of KAFKA__STREAM_BUFFER_SIZE"),
    ("KAFKA__STREAM_BUFFER_SIZE", "100", "KAFKA__STREAM_BUFFER_SIZE"),
    ("RETRAIN__OVERRIDES", '{"fraud": {"daily_limit": -1}}',
     "RETRAIN__OVERRIDES__FRAUD__DAILY_LIMIT"),
    ("RETRAIN__OVERRIDES", '{"fraud": {"triggers": ["x"]}}', "RETRAIN__OVERRIDES__FRAUD__TRIGGERS"),
])
def test_a_bad_override_stops_the_worker_before_it_consumes(monkeypatch, name, value, named):
    from click.testing import CliRunner

    from cli.worker import worker
    from settings import get_settings

    monkeypatch.setenv(name, value)
    # nothing listens here: reaching Kafka at all would be a failure of its own
    monkeypatch.setenv("KAFKA__BROKER", "kafka://127.0.0.1:9")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(worker, ["--no-migrate"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert named in result.output
    assert "kafka" not in result.output.lower().replace(named.lower(), "")


def test_retrain_overrides_reach_the_rule_as_plain_values(monkeypatch):
    monkeypatch.setenv("RETRAIN__OVERRIDES", '{"fraud": {"daily_limit": 1}}')
    retrain = Settings().retrain
    assert retrain.override_values("fraud") == {"daily_limit": 1}
    assert retrain.override_values("other") == {}


def test_the_agent_buffer_holds_four_feature_batches(monkeypatch, tmp_path):
    from faust_app import create_app

    monkeypatch.setenv("STATE_DIR", str(tmp_path))
    monkeypatch.setenv("KAFKA__STREAM_BUFFER_SIZE", "40000")
    monkeypatch.setenv("DRIFT__FEATURE_BATCH_SIZE", "10000")
    settings = Settings()
    assert create_app(settings).conf.stream_buffer_maxsize == 40000
    monkeypatch.setenv("DRIFT__FEATURE_BATCH_SIZE", "10001")
    with pytest.raises(ValidationError, match="DRIFT__FEATURE_BATCH_SIZE"):
        Settings()
