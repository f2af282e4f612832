"""Page script: the Overview (dashboards/overview.py)."""

from dashboards.context import run_page
from dashboards.overview import show

run_page(show)
