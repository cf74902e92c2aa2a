"""Entry point for gunicorn (``wsgi:app``)."""
from knowgap import create_app

app = create_app()
