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
