"""Physical models as pure functions of arrays: the instrument (`instrument`), solid-solution
composition from Raman band positions (`composition`), later LIBS plasma emission and mixing
models.

| module | what |
|---|---|
| `instrument` | calibration error, noise, background, cosmic rays; `SpectralAugmenter` |
| `composition` | band positions -> olivine Fo, pyroxene En-Fs-Wo, plagioclase An, with sd |

Nothing here imports models, pipelines or Keras; the functions are importable on their own::

    from lithoscope.physics.instrument import warp_axis, SpectralAugmenter
    from lithoscope.physics.composition import band_positions, estimate_composition

The submodules are not imported by ``import lithoscope.physics``, so each costs only its own
imports.
"""

__all__ = ["composition", "instrument"]
