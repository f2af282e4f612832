"""Page script: the Alerts (dashboards/alerts.py)."""

from dashboards.alerts import show
from dashboards.context import run_page

run_page(show)
