"""Operator commands: ``flask create-admin``.

The ``admin`` role is never granted through the HTTP API; an operator creates it here::

    flask --app wsgi create-admin --email ops@example.edu --name "Ops"      # prompts password
    flask --app wsgi create-admin --email someone@example.edu --promote     # existing account
"""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext

from knowgap.core.errors import AppError


def register_cli(app: Flask) -> None:
    app.cli.add_command(create_admin_command)


@click.command("create-admin")
@click.option("--email", required=True, help="E-mail address of the admin account.")
@click.option("--name", default="Administrator", show_default=True, help="Display name.")
@click.option("--password", default=None,
              help="Password (prompted, hidden, when omitted; prefer the prompt).")
@click.option("--promote", is_flag=True,
              help="Make an existing account admin instead of failing (password unchanged).")
@with_appcontext
def create_admin_command(email: str, name: str, password: str | None, promote: bool) -> None:
    """Create an AchieveUp admin account (or promote an existing one with --promote)."""
    from achieveup.auth import service, store
    from knowgap.core.services import services

    svc = services()
    exists = store.find_by_email(svc.db, email) is not None
    if exists and promote:
        password = password or "Unused-password-0"
    elif password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = service.create_admin(svc, email, name, password, promote=promote)
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    verb = "promoted to admin" if exists else "created"
    click.echo(f"Admin account {user['email']} {verb} (id {user['_id']}).")
