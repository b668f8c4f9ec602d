from pathlib import Path

import pytest

from labtools import dev_mirror

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = dev_mirror()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "cls-books").is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set FRLAB_MIRROR)")
    return SHARED_DATA
