"""Virtual patients: the natural history of hospitalised COVID-19 on the WHO clinical progression scale."""

from equipoise.simulate.natural_history.calibration import TargetCheck, check, fit
from equipoise.simulate.natural_history.model import NaturalHistory, Population, load_natural_history
from equipoise.simulate.natural_history.outcomes import Paths

__all__ = ["NaturalHistory", "Paths", "Population", "TargetCheck", "check", "fit", "load_natural_history"]
