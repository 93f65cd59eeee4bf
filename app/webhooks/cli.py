"""`flask webhooks add|list|remove`: the admin API's operations from a shell."""

import click
from flask.cli import AppGroup

from app.errors import NotFound, ValidationFailed
from app.webhooks.outbox import EVENT_TYPES
from app.webhooks.routes import admin

webhooks = AppGroup("webhooks", help="Manage webhook endpoints.")


@webhooks.command("add")
@click.argument("url")
@click.option("--event", "events", multiple=True, type=click.Choice(EVENT_TYPES), help="Repeat for several.")
@click.option("--description", default=None)
def add(url: str, events: tuple[str, ...], description: str | None) -> None:
    """Subscribe URL to events (all of them by default); prints the secret once."""
    try:
        endpoint = admin().create(url, list(events or EVENT_TYPES), description)
    except ValidationFailed as error:
        raise click.ClickException(
            "; ".join(f"{field}: {' '.join(m)}" for field, m in error.data["errors"].items())
        ) from None
    click.echo(f"{endpoint['id']}  {endpoint['url']}  {','.join(endpoint['events'])}")
    click.echo(f"secret: {endpoint['secret']}  (shown only now)")


@webhooks.command("list")
def list_endpoints() -> None:
    """List endpoints."""
    for endpoint in admin().endpoints():
        state = "disabled" if endpoint["disabled_at"] else "active"
        click.echo(f"{endpoint['id']}  {endpoint['url']}  {','.join(endpoint['events'])}  {state}")


@webhooks.command("remove")
@click.argument("webhook_id")
def remove(webhook_id: str) -> None:
    """Remove an endpoint and its deliveries."""
    try:
        admin().remove(webhook_id)
    except NotFound:
        raise click.ClickException(f"no endpoint {webhook_id}") from None
    click.echo(f"removed {webhook_id}")
