"""Exceptions whose message is a complete one-line explanation for the user."""

import sys


class UserError(Exception):
    """Bad input or configuration the user can fix; the CLI prints it as one line, without a traceback."""


def root_cause(exc: BaseException) -> BaseException:
    """The innermost cause of ``exc`` (MONAI wraps transform errors in ``RuntimeError('applying transform ...')``)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


def user_error_in(exc: BaseException | None) -> "UserError | None":
    """The first UserError in ``exc``'s chain of causes and contexts, if any."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, UserError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def report_user_errors_last() -> None:
    """Under ``python -m monai.bundle run``, make a UserError the last line the user sees.

    MONAI wraps an error raised while it evaluates a config in ``RuntimeError`` tracebacks, so the project's message
    ends up in the middle. This hook prints the traceback as before and then ``msmonai: error: <message>``. The
    bundles' ``initialize`` lists call it; calling it again does nothing.
    """
    if getattr(sys.excepthook, "reports_user_errors", False):
        return
    previous = sys.excepthook

    def hook(kind, value, traceback) -> None:
        previous(kind, value, traceback)
        found = user_error_in(value)
        if found is not None:
            print(f"msmonai: error: {found}", file=sys.stderr)

    hook.reports_user_errors = True
    sys.excepthook = hook
