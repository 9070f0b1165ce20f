"""The `flywheel` command line: thin click commands over library functions (layer L4)."""

from __future__ import annotations

import json
import logging
import sys

import click

DEFAULT_DATA = "data"


def data_option(fn):
    """`--data DIR`, shared by every command that reads or writes a dataset."""
    return click.option("--data", "data", type=click.Path(file_okay=False), default=DEFAULT_DATA,
                        show_default=True, envvar="FLYWHEEL_DATA", help="Dataset folder.")(fn)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages to stderr.")
def main(verbose: bool) -> None:
    """flywheel: synthesise interactive visual-reasoning data and train on it."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")


@main.group()
def sandbox() -> None:
    """Run Python in the isolated sandbox."""


@sandbox.command("run")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--input", "inputs", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="File placed in every job's folder under its base name (repeatable).")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Wall-time limit per file (s).")
@click.option("--memory-mb", type=int, default=1024, show_default=True, help="Memory limit per file (MB).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="sandbox-out", show_default=True,
              help="Folder the PNGs are copied into (may already exist).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file per line on stdout, nothing else.")
def sandbox_run(files: tuple[str, ...], inputs: tuple[str, ...], timeout: float, memory_mb: int,
                out_dir: str, as_json: bool) -> None:
    """Run each FILE.py through one sandbox pool, in order."""
    from flywheel.sandbox.files import run_files
    from flywheel.sandbox.types import SandboxLimits

    limits = SandboxLimits(wall_s=timeout, memory_mb=memory_mb)
    for record in run_files(files, inputs, limits, out_dir):
        if as_json:
            click.echo(json.dumps(record))
            continue
        err = record["error"]
        head = f"{record['file']}: {record['status']} in {record['wall_s']:.2f}s"
        click.echo(head + (f" ({err['type']}: {err['message']}, line {err['line']})" if err else ""))
        for stream in ("stdout", "stderr"):
            if record[stream]:
                click.echo(f"  {stream}:\n" + "\n".join("    " + ln for ln in record[stream].splitlines()))
        for path in record["images"]:
            click.echo(f"  image: {path}")


# -- dataset commands (query, show, fsck) ------------------------------------------------------------------


# -- evolve -----------------------------------------------------------------------------------------------


if __name__ == "__main__":
    main()
