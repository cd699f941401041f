"""The default error rates of a trial's statistical plan, written once.

A module with no imports, so that the command line can show these defaults in its help without loading the
numerical layers; ``equipoise.design`` (``gsd``, ``GroupSequentialPlan``, ``sample_size``) and ``equipoise.analyze``
(interim monitoring) use the same names.
"""

DEFAULT_ALPHA = 0.025  # one-sided type I error (the two-sided 0.05 convention, one tail)
DEFAULT_BETA = 0.2  # type II error: power 0.8
DEFAULT_SIDED = 1
DEFAULT_SPENDING = "obf"  # O'Brien-Fleming-type alpha spending (Lan & DeMets 1983)
