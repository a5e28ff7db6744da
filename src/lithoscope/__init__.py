"""lithoscope: recognise minerals and rocks on the Moon, Mars and in meteorites from spectra.

The package keeps MinDB, a curated database of planetary minerals, the chemistry engine that checks
their formulas, and (in later modules) the spectral layer and the models that identify minerals.
"""

import os

# Keras 3 reads KERAS_BACKEND at import time and otherwise looks for TensorFlow; lithoscope's
# models are written for JAX first. setdefault keeps a user's explicit choice.
os.environ.setdefault("KERAS_BACKEND", "jax")

__version__ = "0.1.0"

__all__ = ["__version__"]
