"""Property-based fuzzing of the receiver's request handling (the issue's point 12): whatever bytes
and headers arrive, the checks answer with a status and never raise; the depth bound agrees with
the JSON's real nesting (strings full of brackets, quotes and backslashes included); only the
secret's own signature passes; a name that could forge a log line is refused."""

from __future__ import annotations

import json
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from mlmeta.triggers.webhook import MAX_DEPTH, Deliveries, _nested_deeper_than, read_payload, signature

SECRET = "a-webhook-secret-for-fuzzing"
tricky_text = st.text(alphabet=st.sampled_from(list('[]{}"\\ab,:\u2028')), max_size=20)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | tricky_text,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
                           max_leaves=40)


def depth(value) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


def nest(value, times: int):
    for _ in range(times):
        value = [value]
    return value


@settings(max_examples=300, deadline=None)
@given(json_values, st.integers(min_value=0, max_value=40))
def test_the_depth_bound_agrees_with_the_jsons_real_nesting(value, extra):
    document = nest(value, extra)
    assert _nested_deeper_than(json.dumps(document).encode(), MAX_DEPTH) == (depth(document) > MAX_DEPTH)


def test_brackets_inside_strings_and_escapes_are_not_nesting():
    text = b'{"a": "[[[\\u005b\\"[[", "b": ["\\\\", {"c": "]]]}"}]}'
    assert json.loads(text) and depth(json.loads(text)) == 3
    assert not _nested_deeper_than(text, 3) and _nested_deeper_than(text, 2)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_body_is_a_payload_or_none_never_an_exception(body):
    found = read_payload(body)
    assert found is None or (isinstance(found[0], str) and isinstance(found[1], str))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=50), st.sampled_from(["\n", "\r", "\x00", "\x1b", "\x85"]), st.text(max_size=10))
def test_a_name_with_a_control_character_is_refused(before, control, after):
    payload = {"entity": "model_version_alias", "action": "created", "data": {"name": before + control + after}}
    assert read_payload(json.dumps(payload).encode()) is None


headers = st.dictionaries(st.sampled_from(["x-mlflow-delivery-id", "x-mlflow-timestamp", "x-mlflow-signature",
                                           "content-length", "x-other"]), st.text(max_size=60), max_size=5)


@settings(max_examples=300, deadline=None)
@given(headers, st.binary(max_size=200))
def test_any_headers_get_a_status_and_only_the_secrets_signature_passes(given_headers, body):
    verdict = Deliveries(SECRET, 300).check(given_headers, body)
    assert verdict.status in (0, 400, 401)
    if verdict.status == 0:
        expected = signature(SECRET, given_headers["x-mlflow-delivery-id"], given_headers["x-mlflow-timestamp"], body)
        assert given_headers["x-mlflow-signature"] == expected


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["nan", "inf", "-inf", "1e400", "Infinity", "-NaN", "1e309"]), st.binary(max_size=50))
def test_a_signed_timestamp_that_is_not_finite_never_passes(stamp, body):
    delivery = "d-1"
    verdict = Deliveries(SECRET, 300, clock=time.time).check(
        {"x-mlflow-delivery-id": delivery, "x-mlflow-timestamp": stamp,
         "x-mlflow-signature": signature(SECRET, delivery, stamp, body)}, body)
    assert verdict.status == 400 and "finite" in verdict.reason
