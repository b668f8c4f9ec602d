import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FRLAB_MIRROR", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "cls-books").is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set FRLAB_MIRROR)")
    return SHARED_DATA
