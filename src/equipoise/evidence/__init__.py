"""Evidence synthesis: registry records, design classification, meta-analysis, trial sequential analysis, certainty.

A pure layer: plain data in, result objects out. Registry records are stored by ``equipoise.evidence_store``
(DuckDB); the ``equipoise evidence`` commands wire the two together.
"""
