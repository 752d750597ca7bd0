"""CLI command modules, one per area; each exposes `register(group: click.Group) -> None`."""
