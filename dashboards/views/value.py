"""Page script: Value (dashboards/value.py)."""

from dashboards.context import run_page
from dashboards.value import show

run_page(show)
