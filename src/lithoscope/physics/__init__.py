"""Physical models as pure functions of arrays: the instrument (`instrument`), later LIBS plasma
emission and mixing models.

Nothing here imports models, pipelines or Keras; the functions are importable on their own::

    from lithoscope.physics.instrument import warp_axis, SpectralAugmenter
"""
