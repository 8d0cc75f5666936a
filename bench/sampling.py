"""py-spy sampling of the ingest worker, summarised by where the CPU time goes."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

# The innermost frame that matches a rule decides the bucket (pydantic inside decode counts
# as decode; asyncpg inside the store counts as asyncpg; faust under the agent as faust);
# asyncio frames count for whoever called them, the bare loop only when nobody did.
PROJECT = (
    ("services/ingest/decode.py", "decode (orjson + pydantic validation)"),
    ("schemas/normalize.py", "fold: identity / normalisation"),
    ("services/domain/fold.py", "fold: apply, history, summary"),
    ("services/common/crypto.py", "handlers: suppression hashes"),
    ("services/ingest/handlers.py", "handlers: batch logic"),
    ("services/ingest/store.py", "store: building SQL parameters"),
    ("services/common/db.py", "store: jsonb codec (orjson)"),
    ("services/ingest/outbox.py", "outbox flush"),
    ("services/ingest/worker.py", "worker: batch glue, logging"),
    ("services/ingest/app.py", "app: batch glue, lag metric"),
)
# py-spy writes library paths relative to site-packages: "fn (faust/streams.py:12)".
LIBRARIES = (
    ("(asyncpg/", "asyncpg (encode params, read results)"),
    ("(aiokafka/", "aiokafka (fetch, parse record batches, produce)"),
    ("(kafka/", "aiokafka (fetch, parse record batches, produce)"),
    ("(faust/", "faust + mode (conductor, stream, take, acks)"),
    ("(mode/", "faust + mode (conductor, stream, take, acks)"),
    ("(structlog/", "logging"),
    ("(logging/", "logging"),
    ("(prometheus_client/", "metrics"),
    ("(threading.py", "faust + mode (conductor, stream, take, acks)"),
)
LOOP = "asyncio event loop alone (epoll, socket reads and writes, callbacks)"
# Frames every sample passes through: left out of the inclusive list.
SKELETON = (
    "runpy",
    "services/cli.py",
    "services/common/bootstrap.py",
    "mode/worker.py",
    "asyncio/base_events.py",
    "asyncio/events.py",
)


def spy_binary() -> str | None:
    """The py-spy executable next to this Python, or on PATH."""
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def start(pid: int, out: Path, rate: int = 200) -> subprocess.Popen[bytes]:
    """Sample ``pid`` (on-CPU only) into a collapsed-stack file until stopped."""
    binary = spy_binary()
    if binary is None:
        raise RuntimeError("py-spy not installed: .venv/bin/pip install py-spy")
    return subprocess.Popen(
        [
            binary,
            "record",
            "--pid",
            str(pid),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(spy: subprocess.Popen[bytes]) -> None:
    """Stop sampling; py-spy writes its file on SIGINT."""
    spy.send_signal(signal.SIGINT)
    try:
        spy.wait(timeout=30)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait()


def _frames(stack: str) -> list[str]:
    return stack.split(";")


def bucket(stack: str) -> str:
    """The bucket of one sampled stack (root first, as py-spy writes them)."""
    frames = [f for f in _frames(stack) if not any(k in f for k in SKELETON)]
    for frame in reversed(frames):
        for needle, name in (*PROJECT, *LIBRARIES):
            if needle in frame:
                return name
    # asyncio calls made by faust, aiokafka or our code were caught above.
    return (
        LOOP
        if frames == [] or any("(asyncio/" in f or "(selectors.py" in f for f in frames)
        else "other"
    )


def _function(frame: str) -> str:
    """'fn (path/to/module.py:12)' -> 'module.py:fn'."""
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    short = "/".join(path.split("/")[-2:])
    return f"{short}:{name}"


def summarize(raw: Path, top: int = 15) -> str:
    """Markdown: samples per bucket, and the functions with the most inclusive and self time."""
    buckets: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        buckets[bucket(stack)] += n
        frames = _frames(stack)
        for fn in {_function(f) for f in frames if not any(k in f for k in SKELETON)}:
            inclusive[fn] += n
        own[_function(frames[-1])] += n
    if not total:
        return "(no samples)"

    def pct(n: int) -> str:
        return f"{100 * n / total:.1f} %"

    lines = [
        f"{total:,} on-CPU samples of the ingest worker.",
        "",
        "| where (innermost project frame, else library) | share |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {pct(n)} |" for name, n in buckets.most_common()]
    lines += ["", "| function (inclusive) | share |", "|---|---:|"]
    lines += [f"| `{fn}` | {pct(n)} |" for fn, n in inclusive.most_common(top)]
    lines += ["", "| function (self) | share |", "|---|---:|"]
    lines += [f"| `{fn}` | {pct(n)} |" for fn, n in own.most_common(top)]
    return "\n".join(lines)
