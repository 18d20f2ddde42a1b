"""Exceptions as the one-line messages records carry."""


def one_line(exc):
    """'<Type>: <message>' with every run of whitespace (newlines too) one space."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())
