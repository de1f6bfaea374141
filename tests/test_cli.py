"""Every command-line program parses its flags and reaches its `main`: a bad setting each, one line.

The quick tier's check of the six programs (the console scripts `gan-keras-*`
run the same `run_main`): all of them in one fresh Python (`cli_runner`), no
MNIST needed. Their other errors and real runs are in docs/reliability.md's
table (tests/test_reliability_doc.py) and the tests of each program.
"""

import pytest
from cli_runner import run_commands


@pytest.mark.multiprocess
def test_each_program_refuses_a_bad_setting_with_one_line(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    rows = {
        "train.py": [
            (["--k=0"], "train.py: error: --k must be >= 1; got 0."),
            (["--learning_rate=nan"], "train.py: error: --learning_rate must be a finite number; got nan."),
            (["--epochs=2", "extra"], "train.py: error: unexpected arguments ['extra']; settings are --flags."),
        ],
        "export.py": [
            ([f"--model_dir={tmp_path}", f"--export_dir={tmp_path}/export", "--version=0"],
             "export.py: error: --version must be >= 1; got 0."),
        ],
        "-m gan_keras.evaluate": [
            ([f"--model_dir={tmp_path}", "--num_valid=0"], "evaluate: error: flag --num_valid=0: --num_valid must be >= 1."),
        ],
        "-m gan_keras.cli.figures": [
            ([f"--model_dir={tmp_path}/missing"], f"gan-keras-figures: error: --model_dir={tmp_path}/missing is not a directory."),
        ],
        "-m gan_keras.cli.classifier": [
            (["--batch_size=0"], "classifier: error: flag --batch_size=0: --batch_size must be >= 1."),
        ],
        "-m gan_keras.cli.theory": [
            ([f"--out={a_file}/figures"], f"gan-keras-theory: error: --out={a_file}/figures is not a directory: {a_file} is a file."),
        ],
    }
    results = run_commands({program: [args for args, _ in cases] for program, cases in rows.items()})
    expected = [(program, args, message) for program, cases in rows.items() for args, message in cases]
    assert len(results) == len(expected)
    for (program, args, message), result in zip(expected, results):
        assert result["args"] == args
        assert result["traceback"] is None and "Traceback" not in result["stderr"], (program, result)
        assert (result["status"], result["message"]) == (1, message), program
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]  # none of them wrote anything
