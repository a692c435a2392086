"""Allow ``python -m wms``."""

from wms.cli import app

app()
