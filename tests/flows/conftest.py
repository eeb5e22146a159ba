import pytest


@pytest.fixture(autouse=True, scope="session")
def prefect_backend():
    """One throwaway Prefect API (SQLite in a temp dir) for the session, stopped cleanly at the end."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness():
        yield
