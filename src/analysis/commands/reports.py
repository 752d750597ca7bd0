"""`deliverability report`: render a parameterized notebook to a self-contained HTML report."""

from __future__ import annotations

import click

from analysis.commands.options import db_option
from analysis.errors import InputError


def _show_list(notebooks: str | None) -> None:
    from analysis.reports.runner import list_notebooks, notebooks_dir

    directory = notebooks_dir(notebooks)
    infos = list_notebooks(directory)
    if not infos:
        click.echo(f"no notebooks in {directory}")
    for info in infos:
        click.echo(f"{info.name}  —  {info.title}")
        for p in info.params:
            typ = f"{p.type} | None" if p.optional else p.type
            comment = f"  # {p.comment}" if p.comment else ""
            click.echo(f"    {p.name}: {typ} = {p.default!r}{comment}")


@click.command("report")
@click.argument("name", required=False)
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE", help="Notebook parameter (repeatable).")
@db_option
@click.option("--out", "out", default="reports", show_default=True, type=click.Path(file_okay=False),
              help="Directory for the report, its JSON summary and index.html.")
@click.option("--format", "fmt", type=click.Choice(["html", "ipynb", "both"]), default="html", show_default=True,
              help="html: self-contained page; ipynb: the executed notebook; both.")
@click.option("--notebooks", "notebooks", default=None, type=click.Path(file_okay=False),
              help="Directory of report notebooks (default: $DELIVERABILITY_NOTEBOOKS or ./notebooks).")
@click.option("--list", "show_list", is_flag=True, help="List the notebooks with their parameters and exit.")
def report(
    name: str | None,
    params: tuple[str, ...],
    db: str | None,
    out: str,
    fmt: str,
    notebooks: str | None,
    show_list: bool,
) -> None:
    """Run notebooks/NAME.ipynb with papermill and export it as an offline HTML report.

    Parameters are checked against the notebook's `parameters` cell before a kernel starts (exit 2);
    a failing cell exits 1 and leaves the previous report in place. Writes OUT/<name>[__k-v...].html,
    a .json summary beside it (key figures, threshold breaches) and OUT/index.html.
    """
    if show_list:
        _show_list(notebooks)
        return
    if not name:
        raise InputError("give a notebook NAME (see 'deliverability report --list')")
    from analysis.reports.runner import run_report

    result = run_report(name, list(params), db=db, out=out, fmt=fmt, notebooks=notebooks)
    for path in (result.html, result.ipynb, result.summary, result.index):
        if path is not None:
            click.echo(str(path))
    click.echo(f"done in {result.seconds:.1f}s", err=True)


def register(group: click.Group) -> None:
    """Add `report` to the main command group."""
    group.add_command(report)
