"""The error classes baler raises; each message names the file, column, key or value at fault."""


class BalerError(Exception):
    """Base class of every error baler raises on purpose."""


class InputError(BalerError, ValueError):
    """Bad user input: a missing file, tree, branch or column, a wrong shape, a bad option."""


class FormatError(BalerError, ValueError):
    """A ``.baler`` or model file that is damaged, truncated, hostile or of an unknown version."""


class ModelMismatchError(BalerError, ValueError):
    """A model or decoder that does not belong to the compressed file or the data."""
