"""Physical models as pure functions of arrays: the instrument (`instrument`), solid-solution
composition from Raman band positions (`composition`), LIBS plasma emission and element
detection (`libs`), the stoichiometric consistency of a candidate's formula with LIBS elements
or a measured chemistry (`consistency`), later mixing models.

| module | what |
|---|---|
| `instrument` | calibration error, noise, background, cosmic rays; `SpectralAugmenter` |
| `composition` | band positions -> olivine Fo, pyroxene En-Fs-Wo, plagioclase An, with sd |
| `libs` | LTE plasma (Saha-Boltzmann) -> LIBS spectrum; Boltzmann plot; element detection |
| `consistency` | formula vs LIBS elements or measured wt%: score, contradictions, rerank |

Nothing here imports models, pipelines or Keras; the functions are importable on their own::

    from lithoscope.physics.instrument import warp_axis, SpectralAugmenter
    from lithoscope.physics.composition import band_positions, estimate_composition
    from lithoscope.physics.libs import simulate, boltzmann_plot, detect_elements
    from lithoscope.physics.consistency import ChemistryEvidence, check_consistency, rerank

The submodules are not imported by ``import lithoscope.physics``, so each costs only its own
imports.
"""

__all__ = ["composition", "consistency", "instrument", "libs"]
