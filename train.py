"""Trains the adversarial nets of Goodfellow et al. (2014): `python train.py --model_dir=runs/mnist`.

The program is `gan_keras.cli.train` (also the console script `gan-keras-train`);
`python train.py --helpfull` lists its flags and presets.
"""

from gan_keras.cli.train import run_main

if __name__ == "__main__":
    run_main()
