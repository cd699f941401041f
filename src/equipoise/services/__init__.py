"""The trial's operations: every business rule of running a trial, called by ``server`` and ``cli`` alike.

Each module is one operation and decides it: it checks the principal's permission, validates the request
against the protocol in force, writes rows through ``equipoise.store`` in one audited transaction, and raises
an ``equipoise.errors.ServiceError`` (with its HTTP status) when it refuses.

- Enrolment and randomization: ``enrol_randomize`` (the one entry point), ``values`` (enrolment values against
  the protocol), ``randomization`` (eligibility, allocation, idempotency), ``allocator`` (the one bridge to
  ``equipoise.allocate``), ``replay`` (recompute stored allocations), ``further_randomization``,
  ``randomization_lists``, ``allocation_flags``.
- Case report forms: ``patients``, ``schedule``, ``forms``, ``crf_values``, ``crf_access``, ``item_history``,
  ``change_reasons``, ``free_text``, ``queries``, ``signatures``, ``locks``, ``database_lock``, ``off_study``.
- Blinding: ``unblinding``, ``unblinding_requests``, ``emergency_envelopes``.
- Administration: ``trials`` (activate a protocol, the protocol in force on a date), ``users`` (accounts, sites,
  role grants), ``notification_delivery``, ``audit_view`` (the audit trail as each role may read it).
"""
