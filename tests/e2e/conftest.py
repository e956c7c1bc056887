"""pytest fixtures for cfrp end-to-end tests (see cfrp_harness.py)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from cfrp_harness import Harness, bin_dir  # noqa: E402


@pytest.fixture
def cfrp(tmp_path):
    """A Harness rooted at tmp_path; every process it started is killed and reaped."""
    for prog in ("frps", "frpc"):
        if not (bin_dir() / prog).exists():
            pytest.fail(f"{bin_dir() / prog} not built (set CFRP_BIN_DIR)")
    h = Harness(tmp_path)
    try:
        yield h
    finally:
        h.close()
