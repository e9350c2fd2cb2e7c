"""Exceptions whose message is a complete one-line explanation for the user."""


class UserError(Exception):
    """Bad input or configuration the user can fix; the CLI prints it as one line, without a traceback."""
