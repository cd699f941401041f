"""Every message of the pages is in the English and the Chinese catalogues, and Chinese has a translation of it
(run ``python -m equipoise.web.catalogues`` to add new messages, then translate them)."""

from __future__ import annotations

from equipoise.web.catalogues import extracted, read_catalogue
from equipoise.web.i18n import Language


def test_every_message_has_a_chinese_translation():
    catalogue = read_catalogue("zh_Hans")
    translated = {m.id for m in catalogue if m.string}
    untranslated = sorted(m for m in extracted() if m not in translated)
    assert not untranslated, "translate in locale/zh_Hans/LC_MESSAGES/messages.po:\n" + "\n".join(untranslated)


def test_placeholders_survive_translation():
    catalogue = read_catalogue("zh_Hans")
    for message in catalogue:
        if message.id and isinstance(message.id, str) and "%(" in message.id:
            names = sorted(part.split(")")[0] for part in message.id.split("%(")[1:])
            assert sorted(part.split(")")[0] for part in str(message.string).split("%(")[1:]) == names, message.id


def test_the_catalogues_are_compiled_at_import():
    assert Language("zh_Hans").gettext("Sign in") == "登录"
    assert Language("en").gettext("Sign in") == "Sign in"
    assert Language("zh_Hans").gettext("After %(failures)s wrong passwords in a row an account is locked for "
                                       "%(lock)s minutes; after %(idle)s minutes without activity you are signed "
                                       "out.", failures=5, lock=15, idle=30).startswith("连续输错 5 次密码")


def test_dates_and_times_are_in_the_users_language_and_the_sites_time_zone():
    assert Language("en").datetime("2026-12-08T00:00:00+00:00", "Asia/Shanghai") == \
        "8 Dec 2026, 08:00:00 (Asia/Shanghai)"
    assert Language("zh_Hans").datetime("2026-12-08T00:00:00+00:00", "Asia/Shanghai") == \
        "2026年12月8日 08:00:00 (Asia/Shanghai)"
    assert Language("zh_Hans").number(12345.5) == "12,345.5"
