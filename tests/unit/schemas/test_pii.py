from __future__ import annotations

import hashlib
import hmac

import pytest

from schemas.pii import PREFIX, hash_pii, pseudonym

KEY = b"k" * 32


def test_named_fields_are_replaced_at_any_depth_and_the_rest_kept():
    obj = {"Email": "a@b.c", "n": 1, "inner": {"user_id": 42, "keep": "x"},
           "list": [{"email": None}, {"email": "c@d.e"}], "tuple": ("email",)}
    out = hash_pii(obj, ["email", "USER_ID"], KEY)
    assert out["Email"] == PREFIX + hmac.new(KEY, b"a@b.c", hashlib.sha256).hexdigest()
    assert out["inner"] == {"user_id": pseudonym(42, KEY), "keep": "x"}
    assert out["list"] == [{"email": None}, {"email": pseudonym("c@d.e", KEY)}]
    assert out["n"] == 1 and out["tuple"] == ["email"]  # a value named like a field is not a field
    assert obj["Email"] == "a@b.c"  # the input is not modified


def test_whole_objects_under_a_pii_name_are_hashed_as_canonical_json():
    a = hash_pii({"email": {"x": 1, "y": 2}}, ["email"], KEY)
    b = hash_pii({"email": {"y": 2, "x": 1}}, ["email"], KEY)
    assert a == b and a["email"].startswith(PREFIX)


def test_pseudonyms_are_stable_keyed_and_not_hashed_twice():
    assert pseudonym("x", KEY) == pseudonym("x", KEY)
    assert pseudonym("x", KEY) != pseudonym("x", b"other-key-000000")
    assert pseudonym(pseudonym("x", KEY), KEY) == pseudonym("x", KEY)


def test_no_fields_means_no_change_and_fields_without_key_is_an_error():
    obj = {"email": "a@b.c"}
    assert hash_pii(obj, [], None) is obj
    with pytest.raises(ValueError):
        hash_pii(obj, ["email"], None)
