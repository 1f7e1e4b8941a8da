"""The root typer app and the error handling every command shares."""

from __future__ import annotations

import importlib
import sys
import warnings

import typer
from rich.console import Console
from rich.markup import escape

from sagescale.errors import JobFailedError, SageScaleError, SpecError

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "app",
    "console",
    "err_console",
    "main",
]

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # Ctrl-C while waiting: the job or tuning job is left as documented

app = typer.Typer(
    name="sagescale",
    help="Train, tune and track models locally and on Amazon SageMaker.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

# sub-apps owned by each service package: (module, attribute, command name)
_SUBAPPS = [
    ("sagescale.cli._render", "render_app", "render"),
    ("sagescale.cli._jobs", "jobs_app", "jobs"),
    ("sagescale.tuning._cli", "tuning_app", "tuning"),
    ("sagescale.tracking._cli", "experiments_app", "experiments"),
    ("sagescale.reporting._cli", "report_app", "report"),
]
# single commands: (module, attribute, command name)
_COMMANDS = [
    ("sagescale.cli._validate", "validate", "validate"),
    ("sagescale.cli._jobs", "train", "train"),
    ("sagescale.tuning._cli", "tune", "tune"),
    ("sagescale.planning._cli", "plan_command", "plan"),
]


def _mount() -> None:
    for module, attr, name in _SUBAPPS:
        if _import_or_none(module):
            sub = getattr(importlib.import_module(module), attr, None)
            if sub is not None:
                app.add_typer(sub, name=name)
    for module, attr, name in _COMMANDS:
        if _import_or_none(module):
            func = getattr(importlib.import_module(module), attr, None)
            if func is not None:
                app.command(name=name)(func)


def _import_or_none(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.startswith(exc.name):
            return False
        raise
    return True


def _click_errors() -> tuple[type[Exception], ...]:
    """click's ``ClickException``, from the click typer vendors and from click itself."""
    found: list[type[Exception]] = []
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            found.append(importlib.import_module(module).ClickException)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``sagescale`` script."""
    warnings.simplefilter("default")
    try:
        result = app(args=argv, standalone_mode=False)
    except SpecError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return EXIT_BAD_INPUT
    except JobFailedError as exc:
        err_console.print(f"[red]failed:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return EXIT_FAILED
    except SageScaleError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return EXIT_FAILED
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        return EXIT_FAILED
    except _click_errors() as exc:  # usage errors: missing argument, unknown command ...
        exc.show()  # type: ignore[attr-defined]
        return EXIT_BAD_INPUT
    return result if isinstance(result, int) else 0


_mount()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
