"""Page script: Review & model quality (dashboards/review.py)."""

from dashboards.context import run_page
from dashboards.review import show

run_page(show)
