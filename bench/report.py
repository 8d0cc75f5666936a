"""The results table: rows with value, reference, ratio and target, rendered as markdown."""

from __future__ import annotations

from dataclasses import dataclass

INGEST_FIGURES = (
    "end-to-end, with faust start-up",
    "end-to-end, steady",
    "end-to-end, steady, 2 workers in one group",
    "unnest write path alone",
    "raw COPY ceiling (history rows)",
    "replay (all duplicates), steady",
    "faust consumption alone (the take, no handling)",
    "worker.handle alone, no faust",
    "naive: 1 transaction per event",
    "decode alone (orjson + pydantic)",
    "latency p50 at half load",
    "latency p99 at half load",
    "cards after the first pass",
    "automatic merges (linked_by_event)",
    "duplicate suggestions",
)


@dataclass(frozen=True)
class Row:
    """One figure of the table."""

    figure: str
    value: float
    unit: str  # "ev/s", "ms" or "x"
    reference: str = "—"
    ratio: float | None = None
    target: str = "—"
    met: bool | None = None


@dataclass
class Section:
    """One benchmark's part of RESULTS.md: a titled table, its notes and any extra text."""

    title: str
    rows: list[Row]
    notes: list[str]
    extra: str = ""


def fmt(value: float, unit: str) -> str:
    """A number with its unit, thousands separated (small values keep a decimal)."""
    if unit == "x":
        return f"{value:.2f}\u00d7"
    if abs(value) < 10 and value != int(value):
        return f"{value:.1f} {unit}"
    return f"{value:,.0f} {unit}"


def table(rows: list[Row]) -> str:
    """The rows as a markdown table."""
    lines = ["| figure | value | reference | ratio | target | met |", "|---|---:|---|---:|---|---|"]
    for r in rows:
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}\u00d7"
        met = "—" if r.met is None else ("met" if r.met else "**not met**")
        lines.append(
            f"| {r.figure} | {fmt(r.value, r.unit)} | {r.reference} | {ratio} |"
            f" {r.target} | {met} |"
        )
    return "\n".join(lines)


def document(sections: list[Section], machine: dict[str, str], *, date: str, command: str) -> str:
    """RESULTS.md: machine, date, command, then each section's table, notes and extra text."""
    out = [
        "# Benchmark results",
        "",
        f"Date: {date}  ",
        f"Reproduce: `{command}`",
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in machine.items()),
        "",
    ]
    for s in sections:
        out += [f"## {s.title}", ""]
        if s.rows:
            out += [table(s.rows), ""]
        if s.notes:
            out += ["Notes:", "", *(f"- {n}" for n in s.notes), ""]
        if s.extra:
            out += [s.extra.rstrip(), ""]
    return "\n".join(out)
