"""The results table: rows with value, reference, ratio and target, rendered as markdown."""

from __future__ import annotations

from dataclasses import dataclass

FIGURES = (
    "end-to-end, with faust start-up",
    "end-to-end, steady",
    "end-to-end / unnest path alone",
    "end-to-end / naive",
    "naive: 1 transaction per event",
    "unnest write path alone",
    "raw COPY ceiling (history rows)",
    "worker.handle alone, no faust",
    "decode alone (orjson + pydantic)",
    "replay (all duplicates), steady",
    "latency p50 at half load",
    "latency p99 at half load",
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


def fmt(value: float, unit: str) -> str:
    """A number with its unit, thousands separated."""
    if unit == "x":
        return f"{value:.2f}\u00d7"
    if unit == "ms":
        return f"{value:,.0f} ms"
    return f"{value:,.0f} {unit}"


def table(rows: list[Row]) -> str:
    """The rows as a markdown table."""
    lines = ["| figure | value | reference | ratio | target | met |", "|---|---:|---|---:|---|---|"]
    for r in rows:
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}\u00d7"
        met = "—" if r.met is None else ("met" if r.met else "**not met**")
        lines.append(f"| {r.figure} | {fmt(r.value, r.unit)} | {r.reference} | {ratio} |"
                     f" {r.target} | {met} |")
    return "\n".join(lines)


def document(rows: list[Row], machine: dict[str, str], *, date: str, command: str,
             notes: list[str], extra: str = "") -> str:
    """RESULTS.md: machine, date, command, the table, notes and any extra sections."""
    out = [
        "# Ingest benchmark results",
        "",
        f"Date: {date}  ",
        f"Reproduce: `{command}`",
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in machine.items()),
        "",
        table(rows),
        "",
        "Notes:",
        "",
        *(f"- {n}" for n in notes),
        "",
    ]
    if extra:
        out += [extra.rstrip(), ""]
    return "\n".join(out)
