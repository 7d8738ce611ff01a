"""WSGI entry point: ``gunicorn wsgi:app`` from the repository root."""

from storefront import create_app

app = create_app()
