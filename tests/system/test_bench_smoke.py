"""The bench harness runs end to end at smoke size and reports every figure (no timing asserts)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bench import api, exporting, importing
from bench.report import INGEST_FIGURES

ROOT = Path(__file__).resolve().parents[2]


def _values(markdown: str) -> dict[str, str]:
    """Figure name -> value cell of the results table."""
    cells = (line.split("|") for line in markdown.splitlines() if line.startswith("| "))
    return {c[1].strip(): c[2].strip() for c in cells if len(c) > 3}


def test_smoke_run_writes_every_figure_with_a_positive_number(tmp_path: Path) -> None:
    """`python -m bench --smoke` starts its own stack and writes every section of RESULTS.md."""
    out = tmp_path / "RESULTS.md"
    # A subprocess: the bench runs its own event loops, outside pytest's.
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    text = out.read_text(encoding="utf-8")
    values = _values(text)
    for title in ("## Ingest", "## Profile API", "## Export", "## Import"):
        assert title in text, f"missing section {title!r}"
    figures = INGEST_FIGURES + api.FIGURES + exporting.FIGURES + importing.FIGURES
    for figure in figures:
        assert figure in values, f"missing row {figure!r}"
        number = re.search(r"[\d,]*\.?\d+", values[figure])
        assert number is not None, f"no number in {figure!r}: {values[figure]!r}"
        assert float(number.group().replace(",", "")) > 0, f"{figure}: {values[figure]}"
    assert "Reproduce: `python -m bench --smoke" in text
    assert "| cpu |" in text and "| postgresql |" in text
