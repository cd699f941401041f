"""The validation pack of a release (VAL-1): the traceability matrix with each listed test's outcome."""
