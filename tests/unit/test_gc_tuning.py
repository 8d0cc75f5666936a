"""The services' processes collect cycles less often and skip what start-up built."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from services.common.bootstrap import GC_THRESHOLDS, tune_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_start_up_objects_are_frozen_and_young_collections_rarer(restored_gc: None) -> None:
    frozen_before = gc.get_freeze_count()

    tune_gc()

    assert gc.get_threshold() == GC_THRESHOLDS
    assert GC_THRESHOLDS[0] > 700  # Python's default: a young collection every 700 allocations
    assert gc.get_freeze_count() > frozen_before  # what exists now is skipped by collections
