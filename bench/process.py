"""`contacts ingest` as a subprocess (as production runs it) and a reader of its batch logs."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from services.common.infra import start_service, terminate

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret"


def spawn(command: str, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """`contacts COMMAND` from the repository, output appended to ``log_path``."""
    return start_service(command, env, log_path=log_path, cwd=ROOT)


class IngestProcess:
    """One `python -m services.cli ingest` worker with its own consumer group."""

    def __init__(self, db_url: str, bootstrap: str, prefix: str, group: str, log_path: Path):
        self.env = {
            **os.environ,
            "CONTACTS_DATABASE_URL": db_url,
            "CONTACTS_KAFKA_BOOTSTRAP": bootstrap,
            "CONTACTS_TOPIC_PREFIX": prefix,
            "CONTACTS_INGEST_GROUP": group,
            "CONTACTS_KAFKA_SESSION_TIMEOUT": "6",
            "CONTACTS_SECRET": SECRET,
        }
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0

    def start(self) -> float:
        """Start the worker; return the monotonic start time."""
        self.started = time.monotonic()
        self.proc = spawn("ingest", self.env, self.log_path)
        return self.started

    @property
    def pid(self) -> int:
        """The worker's process id."""
        assert self.proc is not None
        return self.proc.pid

    def check(self) -> None:
        """Fail loudly when the worker died."""
        if self.proc is not None and self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"ingest exited with {self.proc.returncode}:\n{tail}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL when it does not exit within 30 s."""
        terminate(self.proc, timeout=30)


class BatchLog:
    """Follows the worker's JSON log and sums the records of its `ingest.batch` lines."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.records = 0
        self.batches = 0
        self.ms: list[float] = []

    def poll(self) -> int:
        """Read new complete lines; return the records handled so far."""
        if not self.path.exists():
            return self.records
        with self.path.open("rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        end = chunk.rfind(b"\n") + 1
        self.offset += end
        for line in chunk[:end].splitlines():
            if b'"ingest.batch"' not in line:
                continue
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            self.records += int(doc.get("records", 0))
            self.batches += 1
            self.ms.append(float(doc.get("ms", 0.0)))
        return self.records
