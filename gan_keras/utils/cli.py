"""What the command-line entry points share: flag parsing and quiet logs."""

import os
import sys

from absl import flags, logging

__all__ = [
    "check_output_file",
    "fail",
    "first_line",
    "flags_parser",
]


def flags_parser(program):
    """An absl `flags_parser` that exits with one line naming a bad flag.

    Example:

    >>> app.run(main, flags_parser=flags_parser("train.py"))  # doctest: +SKIP
    """

    def parse(argv):
        try:
            argv = flags.FLAGS(argv)
        except flags.Error as e:
            sys.exit(f"{program}: error: {e}")
        if len(argv) > 1:
            sys.exit(f"{program}: error: unexpected arguments {argv[1:]}; settings are --flags.")
        # TFDS logs every dataset it opens at INFO; keep the console for progress.
        logging.set_verbosity(logging.WARNING)
        return argv

    return parse


def first_line(error, limit=200):
    """The first line of an error's message, cut to `limit` characters (None: not cut).

    Example:

    >>> first_line(ValueError("bad shape\\n  long trace..."))
    'bad shape'
    """
    text = str(error).strip()
    line = text.splitlines()[0] if text else type(error).__name__
    return line if limit is None or len(line) <= limit else line[: limit - 3] + "..."


def fail(program, error):
    """Exits with `program: error: <message>` on one line."""
    sys.exit(f"{program}: error: {error}")


def check_output_file(program, flag, path):
    """Exits with one line naming `flag` unless `path` can be written as a file (in a directory that exists).

    Example:

    >>> check_output_file("classifier", "--output", "/")
    Traceback (most recent call last):
    SystemExit: classifier: error: --output=/ is a directory; pass a file path.
    """
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        fail(program, f"{flag}={path} is a directory; pass a file path.")
    if not os.path.isdir(parent):
        why = f"{parent} is not a directory" if os.path.exists(parent) else f"directory {parent} does not exist"
        fail(program, f"{flag}={path}: {why}.")
