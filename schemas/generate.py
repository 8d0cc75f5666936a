"""Write the JSON Schema of the event and alert contracts beside the models."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import TypeAdapter

from schemas.alerts import Alert
from schemas.events import site_event_adapter

OUT = Path(__file__).parent / "jsonschema"


def render() -> dict[str, str]:
    """Return file name -> JSON Schema text for every published contract."""
    docs = {
        "site-event.schema.json": site_event_adapter.json_schema(),
        "alert.schema.json": TypeAdapter(Alert).json_schema(),
    }
    return {name: json.dumps(doc, indent=2, sort_keys=True) + "\n" for name, doc in docs.items()}


def main() -> None:
    """Regenerate the committed schema files."""
    OUT.mkdir(exist_ok=True)
    for name, text in render().items():
        (OUT / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
