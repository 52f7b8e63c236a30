"""The release fixtures (tests/support/release.py) for this package's tests."""

from tests.support.release import project  # noqa: F401
