"""Train, identify and evaluate: the runs that tie MinDB, spectra and models together."""
