"""Words and messages the services give in English that the pages show translated (each an msgid here, so the
catalogues hold it): a refusal is shown in the user's language when its exact text is in the catalogue, and in
English otherwise (never a different meaning)."""

from __future__ import annotations

from equipoise.identity.auth import LOGIN_REFUSED, MIN_PASSWORD_LENGTH
from equipoise.web.navigation import N_

# trial statuses
N_("active")
N_("locked")
# patient statuses
N_("enrolled")
N_("randomized")
N_("off-study")
# the login's one answer, and the other refusals of sign-in, re-authentication and password change
N_("wrong username or password, or the account is locked after repeated failed logins (then try again later or "
   "ask an administrator)")
N_("wrong or already used one-time code")
N_("this session has ended: log in again")
N_("this session has expired: log in again")
N_("invalid token: log in again")
N_("this account is deactivated")
N_("re-authentication failed: wrong password")
N_("this account is locked after repeated failed attempts")
N_("this account is locked after repeated failed attempts; this session has ended: log in again later")
N_("this form has expired or did not come from this site: reload the page and try again")
N_("there is no such page")
N_("sign in first")
N_("a password needs at least 10 characters")
N_("the unblinded export is only for the unblinded statistician and the data monitoring committee")
IDLE_NOTICE = N_("You were signed out after %(minutes)s minutes without activity: sign in again.")

assert LOGIN_REFUSED.startswith("wrong username or password, or the account is locked"), "update the msgid above"
assert MIN_PASSWORD_LENGTH == 10, "update the password message above"
# query statuses and the kinds of a query's messages; the audit trail's actions
N_("open")
N_("answered")
N_("closed")
N_("raised")
N_("reopened")
N_("insert")
N_("update")
N_("delete")
# the administrator's pages' own refusals
N_("choose the protocol file (YAML) that adds the amendment")
N_("the protocol file is larger than 1 MB")
N_("the protocol file is not UTF-8 text")
N_("only an admin can verify the whole audit trail")
N_("the file adds no amendment")
# a trial's or a randomization list's purpose
N_("production")
N_("test")
# the services' fixed refusals on the monitor's and administrator's pages
N_("the query's text is required")
N_("the reason for reopening is required")
N_("a reason is required")
N_("a reason for unlocking is required")
N_("a reason to amend a trial is required")
N_("a reason to revoke a role is required")
N_("a username is 1-64 letters, digits, '.', '-' or '_'")
