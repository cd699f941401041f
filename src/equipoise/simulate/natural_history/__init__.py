"""Virtual patients: the natural history of hospitalised COVID-19 on the WHO clinical progression scale.

References
----------
WHO Working Group on the Clinical Characterisation and Management of COVID-19 infection (2020). A minimal common
outcome measure set for COVID-19 clinical research. Lancet Infect Dis 20:e192-e197.
"""

from equipoise.simulate.natural_history.calibration import TargetCheck, check, fit
from equipoise.simulate.natural_history.model import NaturalHistory, Population, load_natural_history
from equipoise.simulate.natural_history.outcomes import Paths

__all__ = ["NaturalHistory", "Paths", "Population", "TargetCheck", "check", "fit", "load_natural_history"]
