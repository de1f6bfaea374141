"""Output paths, numeric bounds and flag combinations the programs refuse up front, one line each.

All the command lines run in one fresh Python (`cli_runner`), and each is refused
before any model is loaded or any data read: the classifier and evaluate rows
pass `--data_dir` of an empty dir (a program that went on would stop there, with
another message), and `G` is a copy of the pretrained generator, left unread.
"""

import os
import shutil

import pytest
from cli_runner import run_commands

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRETRAINED = os.path.join(REPO, "pretrained", "mnist", "generator.keras")
CHECKPOINT = "--checkpoint=/nonexistent/ckpt-3"
CHECKPOINT_ERROR = "--checkpoint and --noema apply to --model_dir, not to --generator (a .keras file holds one set of weights)."


@pytest.fixture(scope="module")
def refused(tmp_path_factory):
    """`{(program, name): (result, expected message)}` of every row, and the dirs they must leave as they were."""
    tmp = tmp_path_factory.mktemp("cli_paths")
    g = tmp / "g" / "generator.keras"
    g.parent.mkdir()
    shutil.copy(PRETRAINED, g)
    empty, a_file, a_dir = tmp / "empty", tmp / "a_file", tmp / "a_dir.keras"
    empty.mkdir()
    a_dir.mkdir()
    a_file.write_text("")
    classifier = [f"--data_dir={empty}"]
    evaluate = [f"--generator={g}", f"--data_dir={empty}", "--num_samples=10", "--num_valid=10", "--num_test=10"]
    rows = {
        "-m gan_keras.cli.classifier": {
            "learning_rate inf": ([*classifier, "--learning_rate=inf", f"--output={tmp}/c.keras"],
                                  "flag --learning_rate=inf: --learning_rate must be a finite number > 0."),
            "output a dir": ([*classifier, f"--output={a_dir}"], f"--output={a_dir} is a directory; pass a file path."),
            "output in a file": ([*classifier, f"--output={a_file}/c.keras"], f"--output={a_file}/c.keras: {a_file} is not a directory."),
        },
        "-m gan_keras.evaluate": {
            "output a dir": ([*evaluate, f"--output={a_dir}"], f"--output={a_dir} is a directory; pass a file path."),
            "output in a missing dir": ([*evaluate, f"--output={tmp}/missing/p.json"],
                                        f"--output={tmp}/missing/p.json: directory {tmp}/missing does not exist."),
            "output in a file": ([*evaluate, f"--output={a_file}/p.json"],
                                 f"--output={a_file}/p.json: {a_file} is not a directory."),
            "checkpoint with generator": ([*evaluate, CHECKPOINT],
                                          f"flags checkpoint=/nonexistent/ckpt-3, ema=True, generator={g}: {CHECKPOINT_ERROR}"),
            "noema with generator": ([*evaluate, "--noema"],
                                     f"flags checkpoint=None, ema=False, generator={g}: {CHECKPOINT_ERROR}"),
            "sigma inf": ([*evaluate, "--sigma=inf"], "flag --sigma=inf: --sigma must be a finite number > 0."),
            "sigmas inf": ([*evaluate, "--sigmas=0.1,inf"],
                           "flag --sigmas=['0.1', 'inf']: --sigmas must be a list of finite numbers > 0."),
        },
        "export.py": {
            "max_samples 2**31": ([f"--generator={g}", f"--export_dir={tmp}/export", "--max_samples=2147483648"],
                                  "--max_samples must be in [1, 2147483647] (requests count images in int32); "
                                  "got 2147483648."),
            "checkpoint with generator": ([f"--generator={g}", f"--export_dir={tmp}/export", CHECKPOINT], CHECKPOINT_ERROR),
            "noema with generator": ([f"--generator={g}", f"--export_dir={tmp}/export", "--noema"], CHECKPOINT_ERROR),
            "export_dir empty": ([f"--generator={g}", "--export_dir="],
                                 "--export_dir must name a directory (e.g. models/gan); got ''."),
        },
    }
    prefixes = {"-m gan_keras.cli.classifier": "classifier", "-m gan_keras.evaluate": "evaluate", "export.py": "export.py"}
    results = run_commands({program: [args for args, _ in cases.values()] for program, cases in rows.items()})
    expected = [
        ((program, name), f"{prefixes[program]}: error: {message}")
        for program, cases in rows.items()
        for name, (_, message) in cases.items()
    ]
    assert len(results) == len(expected)
    runs = {key: (result, message) for (key, message), result in zip(expected, results)}
    return runs, tmp


def check(refused, program, *names):
    runs, tmp = refused
    for name in names:
        result, message = runs[(program, name)]
        assert result["traceback"] is None and "Traceback" not in result["stderr"], (name, result)
        assert (result["status"], result["message"]) == (1, message), name
    # Nothing written: no export dir, no parzen.json beside G, no classifier.
    assert sorted(os.listdir(tmp)) == ["a_dir.keras", "a_file", "empty", "g"]
    assert os.listdir(tmp / "g") == ["generator.keras"] and not os.listdir(tmp / "a_dir.keras")


@pytest.mark.multiprocess
@pytest.mark.parametrize(
    "program, names",
    [
        ("-m gan_keras.cli.classifier", ["learning_rate inf"]),  # a non-finite learning rate
        ("-m gan_keras.cli.classifier", ["output a dir", "output in a file"]),  # --output, before training
        ("-m gan_keras.evaluate", ["output a dir", "output in a missing dir", "output in a file"]),  # before evaluating
        ("export.py", ["max_samples 2**31"]),  # beyond int32, before exporting
        ("export.py", ["export_dir empty"]),  # it had said "cannot be created: No such file or directory: ."
        ("export.py", ["checkpoint with generator", "noema with generator"]),
        ("-m gan_keras.evaluate", ["checkpoint with generator", "noema with generator"]),
        ("-m gan_keras.evaluate", ["sigma inf", "sigmas inf"]),  # non-finite kernel widths, up front
    ],
)
def test_refused_in_one_line_with_nothing_written(refused, program, names):
    check(refused, program, *names)
