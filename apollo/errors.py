"""User-facing errors: the CLI prints their message as one line and exits 1, no traceback."""

import sys
from collections.abc import Callable


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
            print(f"error: {message}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
