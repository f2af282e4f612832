"""Page script: Station (dashboards/station.py)."""

from dashboards.context import run_page
from dashboards.station import show

run_page(show)
