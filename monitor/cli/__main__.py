"""`python -m monitor.cli ...`: the same as the `beltwatch` command."""

from monitor.cli import app

app()
