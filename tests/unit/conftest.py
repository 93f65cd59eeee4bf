"""Unit tests are pure logic: they need neither Redis nor a database."""

import pytest


@pytest.fixture(autouse=True)
def clean_state() -> None:
    """Replaces the suite-wide clean-up, which would connect to Redis and the database."""
