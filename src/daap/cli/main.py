"""``daap`` — the command line, a thin shell over the library.

Exit codes scripts can trust: 0 success; 1 unexpected failure; 2 usage error;
3 invalid descriptor, contract or mesh.yaml; 4 bad data (input, transform,
contract); 5 build could not proceed (dependency cycle, lock held);
6 storage, metadata or event backbone failure; 7 invalid or refused query;
8 the audit log does not verify; 9 an error quality rule failed (quarantined);
10 missing, bad, expired or revoked credentials, or no permission;
11 a governance rule of severity error failed (the build is refused, or `daap govern check` found it).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from daap import __version__
from daap.cli import output
from daap.errors import DaapError

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    """Print a DaapError as ``error: …`` on stderr and exit with its code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DaapError as exc:
            output.error(str(exc))
            sys.exit(exc.exit_code)
        except Exception as exc:
            if os.environ.get("DAAP_DEBUG"):
                raise
            output.error(f"internal error ({type(exc).__name__}: {exc})")
            output.note("  this is a bug in daap; DAAP_DEBUG=1 shows the traceback; please report it")
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="daap")
@click.option(
    "-w",
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    help="Mesh workspace (default: nearest folder upward holding mesh.yaml, else the current folder).",
)
@click.pass_context
def cli(ctx: click.Context, workspace: Path | None) -> None:
    """daap — declare, build, snapshot and query data products."""
    ctx.obj = workspace


def main() -> None:
    cli()


# Commands register themselves on `cli`; imported last because they import it.
from daap.cli import (  # noqa: E402
    access,
    audit,
    catalog,
    commands,
    demo,
    diff,
    events,
    govern,
    observe,
    registry,
    up,
    watch,
)

__all__ = [
    "access",
    "audit",
    "catalog",
    "cli",
    "commands",
    "demo",
    "diff",
    "events",
    "govern",
    "handle_errors",
    "main",
    "observe",
    "registry",
    "up",
    "watch",
]
