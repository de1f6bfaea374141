"""gan_keras: Generative Adversarial Nets (Goodfellow et al., 2014) in Keras 3."""

import setuptools

setuptools.setup(
    name="gan_keras",
    version="0.1.0",
    description="Generative Adversarial Nets (Goodfellow et al., 2014) in TensorFlow/Keras 3.",
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    packages=setuptools.find_packages(include=["gan_keras", "gan_keras.*"]),
    package_data={"gan_keras": ["assets/*"]},
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.18",
        "keras>=3.6",
        # TFP on TensorFlow needs tf-keras, which the [tf] extra installs.
        "tensorflow-probability[tf]>=0.25",
        "tensorflow-datasets>=4.9",
        "importlib_resources",
        # train.py logs to TensorBoard; TF 2.21 no longer installs it.
        "tensorboard",
        "absl-py",
        # Plots of the toy problems (docs/theory.md, the ring8 scatter).
        "matplotlib",
        "numpy",
    ],
    extras_require={
        # The protos of TF Serving's warm-up requests (export.py); pinned to TF's minor version.
        "serving": ["tensorflow-serving-api>=2.21,<2.22"],
        "test": ["pytest>=8", "tensorflow-serving-api>=2.21,<2.22"],
    },
    license="Apache-2.0",
)
