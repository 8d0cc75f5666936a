"""Benchmark harness for the ingest path; `python -m bench` runs it and writes RESULTS.md."""
