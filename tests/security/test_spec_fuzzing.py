"""The spec loader on anything a pull request can hold: never an exception, every finding at a
line and column inside the file (property-based, hypothesis)."""

from __future__ import annotations

import re
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlmeta.spec.load import load_spec
from tests.helpers.files import GOOD_SPEC

KEYS = ["mlmeta", "name", "service", "features", "sources", "column", "table", "description", "description_file",
        "mlflow", "alias", "stage", "registered_model", "type", "tags", "owners", "outputs", "kubeflow",
        "production", "&a", "*a", "<<", "!!python/object:os.system", "- ", "{", "}", "[", "]", ": ", "\t", "'", '"',
        "\\", "\u202e", "\x00", "\ufeff"]
yaml_like = st.lists(st.one_of(st.sampled_from(KEYS), st.text(string.printable, max_size=8),
                               st.sampled_from(["\n", "\n  ", "\n    - ", ": ", "- "])), max_size=80).map("".join)


def _lines(text: str) -> int:
    """Lines as YAML counts them: a lone \r, NEL and the Unicode separators break lines too."""
    return len(re.split("\r\n|[\r\n\x85\u2028\u2029]", text))


def _check(path, text_lines: int) -> None:
    result = load_spec(path)
    for finding in result.diagnostics:
        assert 1 <= finding.line <= max(text_lines, 1) + 1, finding
        assert finding.column >= 1, finding
        assert finding.code and finding.message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(yaml_like)
def test_any_text_loads_as_a_spec_or_findings_at_real_positions(tmp_path, text):
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    _check(path, _lines(text))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, len(GOOD_SPEC)), st.text(max_size=20))
def test_a_good_spec_with_anything_inserted_anywhere_never_breaks_the_loader(tmp_path, at, inserted):
    text = GOOD_SPEC[:at] + inserted + GOOD_SPEC[at:]
    path = tmp_path / "spec.yaml"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    _check(path, _lines(text))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_any_bytes_load_as_findings_not_exceptions(tmp_path, data):
    path = tmp_path / "spec.yaml"
    path.write_bytes(data)
    _check(path, _lines(data.decode("utf-8", errors="replace")))
