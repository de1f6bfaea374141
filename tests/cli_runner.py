"""Runs several command lines of one program in one fresh Python, as its `app.run` would.

Each command-line program (`train.py`, `export.py`, `python -m gan_keras.evaluate`,
`gan-keras-figures`, ...) ends every error in one `program: error: ...` line
through `sys.exit`. Starting a Python (and TensorFlow) per command line costs
seconds each; here one process imports the program once and runs each command
line through the program's own flag parser and `main`, exactly the two calls
its `app.run(main, flags_parser=...)` makes, resetting absl's global flags in
between. What each run would have shown is recorded: its exit status, the
`sys.exit` message (the last stderr line of a real run), and the Python-level
stdout and stderr.

Use from a test:

    results = run_commands("train.py", [["--k=0"], ["--model_dir=...", "--arch=conv"]])
    assert results[0]["status"] == 1 and results[0]["message"] == "train.py: error: ..."

The program is a script path (`train.py`, relative to the repository) or
`-m module`, as a command line would start it.
"""

import contextlib
import io
import json
import os
import runpy
import subprocess
import sys
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_commands(program, commands=None, env=None, cwd=REPO, timeout=600, setup=None):
    """Runs `program` with each argument list of `commands` in one fresh Python; returns one result each.

    `program` may also be `{program: commands}` (and `commands` None): the
    programs one after another in the one Python, their results in order.

    `setup`: Python code the process runs first (e.g. configuring logical
    devices, which must happen before TensorFlow starts).

    A result is `{"args", "status", "message", "stdout", "stderr", "traceback"}`:
    `status` is the exit status the command would have had (1 for an error
    message), `message` the `sys.exit` text (None on success), `traceback`
    the text of an exception that escaped `main` (None if none did).
    """
    process = start_commands(program, commands, env=env, cwd=cwd, setup=setup)
    return finish_commands(process, timeout=timeout)


def start_commands(program, commands=None, env=None, cwd=REPO, setup=None):
    """Starts the runner process of `run_commands`; `finish_commands` collects it (start several to overlap them)."""
    programs = [(program, commands)] if isinstance(program, str) else list(program.items())
    programs = [(name, [[str(a) for a in args] for args in rows]) for name, rows in programs]
    request = json.dumps({"programs": programs, "setup": setup})
    process = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), request],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ if env is None else env, TF_CPP_MIN_LOG_LEVEL="2"), cwd=cwd,
    )
    process.expected = sum(len(rows) for _, rows in programs)
    return process


def finish_commands(process, timeout=600):
    """The results of a `start_commands` process (see `run_commands`)."""
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        process.kill()
    results = [json.loads(line[len(_MARK):]) for line in stdout.splitlines() if line.startswith(_MARK)]
    if process.returncode != 0 or len(results) != process.expected:
        raise AssertionError(f"the command runner failed ({process.returncode}):\n{stderr[-4000:]}")
    return results


_MARK = "@@cli_runner@@"


def _load_program(program):
    """`(main, flags_parser)` of a program, as its `run_main` hands them to `app.run`."""
    from absl import app

    captured = {}

    def capture(main, argv=None, flags_parser=None):
        captured.update(main=main, flags_parser=flags_parser)

    real_run, app.run = app.run, capture
    try:
        if program.startswith("-m "):
            import importlib

            module = importlib.import_module(program[3:].strip())
            module.run_main()
        else:
            path = program if os.path.isabs(program) else os.path.join(REPO, program)
            runpy.run_path(path, run_name="__main__")  # the script's own `if __name__ == "__main__"` line
    finally:
        app.run = real_run
    if "main" not in captured:
        raise RuntimeError(f"{program} did not call absl.app.run")
    return captured["main"], captured["flags_parser"]


def _run_one(main, parse, argv):
    from absl import flags

    flags.FLAGS.unparse_flags()
    out, err = io.StringIO(), io.StringIO()
    status, message, escaped = 0, None, None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(parse(argv)) or 0
        except SystemExit as e:
            if isinstance(e.code, str):
                status, message = 1, e.code
            else:
                status = e.code or 0
        except BaseException:  # what a real run would print as a traceback
            status, escaped = 1, traceback.format_exc()
    return {"args": argv[1:], "status": status, "message": message, "stdout": out.getvalue(),
            "stderr": err.getvalue(), "traceback": escaped}


def _serve():
    sys.path.insert(0, REPO)  # this repository's gan_keras, whatever else is installed
    request = json.loads(sys.argv[1])
    if request.get("setup"):
        exec(compile(request["setup"], "<setup>", "exec"), {"__name__": "__setup__"})
    from absl import flags

    for program, commands in request["programs"]:
        before = set(flags.FLAGS)
        main, parse = _load_program(program)
        name = os.path.basename(program) if not program.startswith("-m ") else program[3:].strip()
        for args in commands:
            result = _run_one(main, parse, [name, *args])
            print(_MARK + json.dumps(result), flush=True)
        # The programs define flags of the same names (--model_dir): the next one defines its own.
        for flag in set(flags.FLAGS) - before:
            if (flags.FLAGS.find_module_defining_flag(flag) or "").startswith("gan_keras"):
                delattr(flags.FLAGS, flag)


if __name__ == "__main__":
    _serve()
