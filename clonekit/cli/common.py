"""What every command module shares: the `clonekit` app, the consoles, the user-error wrapper and the options
that several stages declare alike."""

from __future__ import annotations

import errno
import functools
from pathlib import Path

import typer
from rich.console import Console

from clonekit.errors import ClonekitError

HELP = """clonekit: turn a person's chat history into a local chatbot that writes like them.

Each command runs one stage and reads the previous stage's files:
export -> messages.jsonl (prep parse) -> datasets (prep build) -> adapter -> server -> bot/compare.
"""
app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False, rich_markup_mode="rich")
console = Console()
err_console = Console(stderr=True)


def user_errors(fn):
    """Print a ClonekitError as one red line and exit 2: user errors never show a traceback. File-system errors that
    a stage did not turn into one (a folder where a file was expected, no permission, a full disk) are shown the same
    way, with the path."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ClonekitError as e:
            err_console.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except (PermissionError, IsADirectoryError, NotADirectoryError, FileNotFoundError, FileExistsError) as e:
            where = f"{e.filename}: " if e.filename else ""
            err_console.print(f"[bold red]error:[/] {where}{e.strerror or e}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except OSError as e:
            if e.errno not in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
                raise
            err_console.print(f"[bold red]error:[/] {e.filename or ''}: {e.strerror}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


def model_option(schema, name: str, *flags: str, **kwargs):
    """A typer option for a config model's field: its default and its help come from the model (`field_help`)."""
    from clonekit.config import field_help

    default = schema.model_fields[name].get_default(call_default_factory=True)
    return typer.Option(default, *flags, help=field_help(schema, name), show_default=False, **kwargs)


SET_OPT = typer.Option(
    None, "--set", help="KEY=VALUE: override any field of this stage's config (dots for nested: memory.top_k=8)."
)


def open_registry(path: Path):
    from clonekit.registry import Registry

    return Registry(path).require()


REGISTRY_OPT = typer.Option(Path("registry"), "--registry", "-r", help="The registry directory.")
ACTOR_OPT = typer.Option(None, "--actor", help="Who acts (default: your user name); goes into the audit log.")
