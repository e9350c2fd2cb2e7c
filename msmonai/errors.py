"""Exceptions whose message is a complete one-line explanation for the user."""


class UserError(Exception):
    """Bad input or configuration the user can fix; the CLI prints it as one line, without a traceback."""


def root_cause(exc: BaseException) -> BaseException:
    """The innermost cause of ``exc`` (MONAI wraps transform errors in ``RuntimeError('applying transform ...')``)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc
