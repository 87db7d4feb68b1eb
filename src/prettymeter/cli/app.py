"""The `pretty-meter` Typer application object that every verb module registers on."""

import typer

app = typer.Typer(
    name="pretty-meter",
    help="Rate how good a person looks on a photo, 0 to 10: data toolkit, trainer and service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
