"""What the command-line entry points share: flag parsing, checks of the paths they are given, and quiet logs."""

import os
import sys

from absl import flags, logging

__all__ = [
    "check_input_dir",
    "check_output_dir",
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
            sys.exit(f"{program}: error: {str(e).removeprefix('ERROR:: ')}")  # absl's prefix of a missing --flagfile
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
    if not path:
        fail(program, f"{flag} must name a file; got ''.")
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        fail(program, f"{flag}={path} is a directory; pass a file path.")
    if not os.path.isdir(parent):
        why = f"{parent} is not a directory" if os.path.exists(parent) else f"directory {parent} does not exist"
        fail(program, f"{flag}={path}: {why}.")


def check_output_dir(program, flag, path):
    """Exits with one line naming `flag` unless `path` is a directory or can be made one.

    Example:

    >>> check_output_dir("figures", "--out", "")
    Traceback (most recent call last):
    SystemExit: figures: error: --out must name a directory; got ''.
    """
    if not path:
        fail(program, f"{flag} must name a directory; got ''.")
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        where = "" if existing == os.path.abspath(path) else f": {existing} is a file"
        fail(program, f"{flag}={path} is not a directory{where}.")


def check_input_dir(program, flag, path):
    """Exits with one line naming `flag` if `path` is given but is not a directory (None or '': not given)."""
    if path and not os.path.isdir(path):
        fail(program, f"{flag}={path} is not a directory.")
