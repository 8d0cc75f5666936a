"""The browser fixtures (tests/support/browser.py)."""

from tests.support.browser import browser, context, page, served, workers

__all__ = ["browser", "context", "page", "served", "workers"]
