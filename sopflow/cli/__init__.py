"""The ``sopflow`` command. Exit status: 0 success, 1 rejected or invalid input (the reason
on stderr), 2 usage error, 3 internal error (a bug: set SOPFLOW_DEBUG=1 for the traceback).

The commands are imported when ``main`` runs, not with this package: the console script
imports ``main`` from here at its top, and a worker process that ``audit verify`` or the
statistics start (spawn) imports its parent's main module, that script, again. Importing the
commands (typer, the services) takes a second; the workers need none of it.
"""

from __future__ import annotations


def main() -> None:
    from sopflow.cli.app import main as run

    run()
