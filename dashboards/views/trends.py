"""Page script: Trends (dashboards/trends.py)."""

from dashboards.context import run_page
from dashboards.trends import show

run_page(show)
