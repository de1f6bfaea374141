"""`python -m gan_keras.evaluate --model_dir=runs/mnist`: the program of `gan_keras.cli.evaluate`.

Kept so that the documented command works; the code is in `gan_keras.cli.evaluate`
(also the console script `gan-keras-evaluate`).
"""

from gan_keras.cli.evaluate import run_main

__all__ = []

if __name__ == "__main__":
    run_main()
