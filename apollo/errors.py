"""User-facing errors: the CLI prints their message as one line and exits 1, no traceback."""


class ApolloError(Exception):
    """A problem with the user's input (a file, a path, a checkpoint, an option)."""
