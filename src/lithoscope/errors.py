"""Exceptions that lithoscope raises for bad input.

Every message is one line that names the input (file, argument, formula), says what was expected,
what was found, and how to fix it. The CLI prints ``str(error)`` and exits non-zero, never a
traceback.
"""


class LithoscopeError(Exception):
    """Base class of the errors lithoscope reports to its users."""


class InputError(LithoscopeError, ValueError):
    """An argument, file or value supplied by the user is not what lithoscope expects."""


class FormulaError(InputError):
    """A chemical formula (or a list of oxide weight percents) cannot be understood."""


class CuratedDataError(InputError):
    """A row of MinDB's curated text files is invalid; the message gives ``file:line``."""


class DatabaseError(LithoscopeError):
    """MinDB cannot be opened, migrated or queried (wrong URL, newer schema, foreign tables)."""


class ModelFileError(InputError):
    """A saved model's file is missing, corrupt, foreign or written by a newer lithoscope."""
