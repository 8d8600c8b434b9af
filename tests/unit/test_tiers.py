"""A test's tier marker comes from its folder and, outside the tier folders, from the server fixtures it
uses (tests/conftest.py); a unit test that asks for a server is refused at collection, naming the fix."""

from __future__ import annotations

import pytest

from tests.conftest import SERVER_FIXTURES, tier_of
from tests.helpers.files import REPO

TESTS = REPO / "tests"


@pytest.mark.parametrize("folder", ["unit", "integration", "e2e"])
def test_a_tier_folder_gives_its_marker(folder):
    assert tier_of(TESTS / folder / "plan" / "test_x.py", ["tmp_path"]) == folder


def test_outside_the_tier_folders_a_server_fixture_makes_an_integration_test():
    assert tier_of(TESTS / "security" / "test_x.py", ["in_tmp", "registry", "mlflow_server"]) == "integration"
    assert tier_of(TESTS / "security" / "test_x.py", ["in_tmp", "cli"]) == "unit"


@pytest.mark.parametrize("fixture", sorted(SERVER_FIXTURES))
def test_a_unit_test_that_asks_for_a_server_is_refused_naming_the_fixture_and_the_fix(fixture):
    with pytest.raises(pytest.UsageError, match=f"tests/unit/spec/test_x.py: .*uses {fixture}; move it to "
                                                "tests/integration/"):
        tier_of(TESTS / "unit" / "spec" / "test_x.py", ["in_tmp", fixture])


def test_every_test_file_lives_in_a_tier_folder_or_in_security():
    strays = [str(path.relative_to(REPO)) for path in TESTS.glob("test_*.py")]
    assert not strays, f"put these under tests/unit/, tests/integration/ or tests/e2e/: {strays}"
