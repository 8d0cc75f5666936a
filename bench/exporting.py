"""Placeholder: the exporting benchmark (being written)."""

from __future__ import annotations

from bench.infra import BenchStack
from bench.report import Section

FIGURES: tuple[str, ...] = ()  # the row names this section always writes


async def run(stack: BenchStack, *, rows: int) -> Section:
    """Measure and return this benchmark's section of RESULTS.md."""
    raise NotImplementedError
