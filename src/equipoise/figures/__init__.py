"""Every figure Equipoise draws, one module per kind of figure; each function takes a result object (or the
table a report shows) and returns a matplotlib Figure.

- ``boundaries``: a group-sequential design's boundaries (z and effect scale) and its sample-size path.
- ``interim_monitoring``: the boundaries recomputed at the observed looks, with the observed z path.
- ``operating_characteristics``: simulated stopping by look and sample size; the power curve.
- ``single_arm``: patients improved in simulated single-arm studies, and the claim check's scenarios.
- ``platform_simulation``: a simulated adaptive platform's allocation and decisions by analysis.
- ``allocation_history``: a running platform's monthly allocation by arm (closed report).
- ``kaplan_meier``: survival or cumulative-incidence curves with numbers at risk.
- ``ordinal_distribution``: stacked bars of an ordinal scale (the WHO scale) by group and day.
- ``subgroup_forest``: subgroup estimates of the closed report.
- ``enrolment``: cumulative enrolment by site.
- ``consort``: the CONSORT 2010 flow diagram.
- ``meta_forest``, ``funnel``, ``cumulative_meta``, ``trial_sequential``: the meta-analysis figures.
- ``registry_summary``: registered trials counted by design, status, size and country.
- ``report_style`` and ``svg``: the reports' look and their inline SVG.

A pure layer: matplotlib only, no I/O but what drawing needs (the caller saves the Figure). matplotlib is
imported inside the functions, so importing a result module does not load it. The package imports nothing
itself, so that result modules can import its modules without a cycle.
"""
