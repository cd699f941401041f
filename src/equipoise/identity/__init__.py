"""Who is asking: users' credentials and sessions, roles and their permissions, the principal of a request.

- ``auth``: passwords (argon2), sessions and API tokens (stored as HMACs), lockout and idle time-out.
- ``totp``: the second factor; ``oidc``: single sign-on.
- ``roles``: every ``Action`` and the roles allowed it (``PERMISSIONS``).
- ``principal``: the signed-in user of one request: ``require(action, trial, site)``, ``site_filter``,
  ``sees_arms``, and the audit context (who and why) of a write.
- ``security_settings``: the server's security settings, from the environment.

Identity reads and writes users through ``equipoise.store``; it knows nothing of trials' operations.
"""
