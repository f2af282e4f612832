"""Fixtures for the notifier tests: an HTTP client; the local HTTP server standing in for
each service is pytest-httpserver's `httpserver`."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """A client as the dispatcher would pass it (a timeout, no redirects)."""
    with httpx.Client(timeout=5.0) as http:
        yield http


@pytest.fixture
def impatient_client() -> Iterator[httpx.Client]:
    """A client whose timeout a slow handler outlasts."""
    with httpx.Client(timeout=0.1) as http:
        yield http
