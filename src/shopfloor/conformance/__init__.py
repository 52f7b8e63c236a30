"""`shopfloor conformance …`: the command-line contract of CONFORMANCE.md.

JSON on stdout, diagnostics on stderr, exit 0 on success. One module per spec
layer registers its subcommands on `app`.
"""

import typer

app = typer.Typer(help="Adapter through which outside suites score the three Attractor spec layers.",
                  no_args_is_help=True, add_completion=False)
