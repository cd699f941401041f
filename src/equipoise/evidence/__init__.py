"""Evidence synthesis: registry records, design classification, meta-analysis, trial sequential analysis, certainty.

A pure layer: plain data in, result objects out. Registry records are stored by ``equipoise.evidence_store``
(DuckDB); the ``equipoise evidence`` commands wire the two together.

References
----------
Deeks JJ, Higgins JPT, Altman DG (eds) (2023). Cochrane Handbook for Systematic Reviews of Interventions,
ch. 10. Viechtbauer W (2010). J Stat Softw 36(3):1-48. Wetterslev J, Jakobsen JC, Gluud C (2017). BMC Med Res
Methodol 17:39. Schünemann H et al. (eds) (2013). GRADE Handbook.
"""
