"""Exports a trained generator for TF Serving and Keras: `python export.py --model_dir=runs/mnist --export_dir=models/gan`.

The program is `gan_keras.cli.export` (also the console script `gan-keras-export`).
"""

from gan_keras.cli.export import run_main

if __name__ == "__main__":
    run_main()
