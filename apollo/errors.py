"""User-facing errors: the CLI prints their message as one line and exits 1, no traceback."""

import re
import sys
from collections.abc import Callable

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")  # colour and cursor codes (torch's own messages carry some)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # any other terminal control, e.g. from a file name


def printable(text: str) -> str:
    """A message safe to print: ANSI codes dropped, other control characters shown as '?'."""
    return CONTROL.sub("?", ANSI.sub("", text))


class ApolloError(Exception):
    """A problem with the user's input (a file, a path, a checkpoint, an option)."""

    def messages(self) -> list[str]:
        """What the user is shown, one `error:` line each (a ConfigError may hold several mistakes)."""
        return [str(self)]


def run_command(command: Callable[[], object]) -> None:
    """Run a command-line entry point: each of a user's mistakes is one `error:` line on stderr and exit 1,
    Ctrl-C exit 130."""
    try:
        command()
    except ApolloError as e:
        for message in e.messages():
            print(f"error: {printable(message)}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
