"""The trial-server commands through the real CLI entry point."""

from __future__ import annotations

import io
import json
from pathlib import Path

from sqlalchemy import text

from equipoise.identity.auth import AuthService
from equipoise.store.db import Database
from tests.store.support import DEMO, PLATFORM


def test_trial_create_user_add_and_audit_verify(run_cli, db_url: str, tmp_path: Path):
    result = run_cli("trial", "create", DEMO, "--db", db_url)
    assert result.code == 0, result.stderr
    assert "trial MSC-COVID-RCT created" in result.stdout
    again = run_cli("trial", "create", DEMO, "--db", db_url)
    assert again.code == 2
    assert "already exists" in again.stderr
    result = run_cli("user", "add", "li", "--role", "site-coordinator", "--trial", "MSC-COVID-RCT", "--site",
                     "pumch", "--password", "a long enough password", "--db", db_url)
    assert result.code == 0, result.stderr
    bad_site = run_cli("user", "add", "bo", "--role", "investigator", "--trial", "MSC-COVID-RCT", "--site", "mars",
                       "--password", "a long enough password", "--db", db_url)
    assert bad_site.code == 2
    assert "no site 'mars'" in bad_site.stderr
    bad_role = run_cli("user", "add", "cy", "--role", "boss", "--password", "a long enough password", "--db", db_url)
    assert bad_role.code == 2
    assert "unknown role" in bad_role.stderr
    listed = run_cli("user", "list", "--db", db_url, "--json")
    assert [u["username"] for u in json.loads(listed.stdout)] == ["li"]
    verified = run_cli("audit", "verify", "--db", db_url, "--json")
    assert verified.code == 0
    assert json.loads(verified.stdout)["ok"] is True
    replay = run_cli("allocation", "replay", "--db", db_url)
    assert replay.code == 0
    assert "MSC-COVID-RCT: replayed 0 allocations" in replay.stdout


def test_audit_verify_exits_1_and_names_the_tampered_record(run_cli, db_url: str):
    assert run_cli("trial", "create", PLATFORM, "--db", db_url).code == 0
    db = Database(db_url)
    with db.write_engine.begin() as conn:
        conn.execute(text("UPDATE trials SET title = 'Something else'"))
    db.dispose()
    result = run_cli("audit", "verify", "--db", db_url)
    assert result.code == 1
    assert "trials PANDEMIC-PLATFORM: differs from the replay of its history in title" in result.stdout


def test_invalid_protocol_is_refused_with_located_problems(run_cli, db_url: str, tmp_path: Path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(DEMO.read_text().replace("method: minimization", "method: coin-toss"))
    result = run_cli("trial", "create", broken, "--db", db_url)
    assert result.code == 2
    assert "broken.yaml:" in result.stderr
    assert "coin-toss" in result.stderr or "method" in result.stderr


def test_demo_sets_up_trial_and_one_user_per_role_and_is_rerunnable(run_cli, tmp_path: Path):
    first = run_cli("demo", "--no-serve", "--data-dir", tmp_path / "demo", "--protocol", DEMO, "--patients", "0")
    assert first.code == 0, first.stderr
    assert "http://127.0.0.1:8000" in first.stdout
    assert "password for all: equipoise-demo" in first.stdout
    assert "  dmc           dmc" in first.stdout  # the users made, one per role, listed once
    again = run_cli("demo", "--no-serve", "--data-dir", tmp_path / "demo", "--protocol", DEMO, "--patients", "0")
    assert again.code == 0, again.stderr
    assert "password for all" not in again.stdout
    url = f"sqlite:///{tmp_path / 'demo' / 'equipoise.sqlite3'}"
    users = json.loads(run_cli("user", "list", "--db", url, "--json").stdout)
    roles = {r["role"] for u in users for r in u["roles"]}
    assert roles == {"admin", "site-coordinator", "investigator", "monitor", "blinded-statistician",
                     "unblinded-statistician", "dmc"}
    assert run_cli("audit", "verify", "--db", url).code == 0


def test_trial_amend_from_the_command_line(run_cli, db_url: str, tmp_path: Path):
    assert run_cli("trial", "create", PLATFORM, "--db", db_url).code == 0
    amended = tmp_path / "platform-v4.yaml"
    amended.write_text(PLATFORM.read_text() + """
  - version: "4.0"
    effective_date: 2999-01-01
    summary: Add a far-future arm.
    changes:
      - change: add-arm
        arm: {id: future_drug, name: Future drug + usual care, role: experimental, allocation: 1}
""")
    result = run_cli("trial", "amend", amended, "--reason", "ethics approval E-42", "--db", db_url)
    assert result.code == 0, result.stderr
    assert "versions 1.0, 2.0, 3.0, 4.0" in result.stdout
    again = run_cli("trial", "amend", amended, "--reason", "again", "--db", db_url)
    assert again.code == 2
    assert "adds no amendment" in again.stderr


def test_a_command_that_reads_a_trial_refuses_a_missing_database_file_and_hints_at_db(run_cli, tmp_path: Path):
    missing = tmp_path / "typo" / "equipoise.sqlite3"
    for args in (["forms", "tracking", "MSC-COVID-RCT"], ["export", "csv", "MSC-COVID-RCT", "-o", str(tmp_path / "x")],
                 ["audit", "verify"], ["allocation", "replay"], ["user", "list"],
                 ["user", "add", "li", "--role", "monitor", "--trial", "MSC-COVID-RCT", "--password", "x" * 20]):
        result = run_cli(*args, "--db", f"sqlite:///{missing}")
        assert result.code == 2, (args, result.stderr)
        assert f"no database at {missing}" in result.stderr
        assert "--db" in result.stderr
        assert "EQUIPOISE_DATABASE_URL" in result.stderr
    assert not missing.parent.exists()  # nothing created, not even the directory


def test_no_trial_in_the_database_names_it_and_hints_at_db(run_cli, db_url: str):
    assert run_cli("trial", "create", PLATFORM, "--db", db_url).code == 0
    result = run_cli("forms", "tracking", "MSC-COVID-RCT", "--db", db_url)
    assert result.code == 2
    assert "no trial 'MSC-COVID-RCT' in " in result.stderr
    assert "--db URL or $EQUIPOISE_DATABASE_URL" in result.stderr


def test_user_add_reads_the_password_from_a_file_or_standard_input(run_cli, db_url: str, tmp_path: Path,
                                                                    monkeypatch):
    assert run_cli("trial", "create", DEMO, "--db", db_url).code == 0
    secret = tmp_path / "password.txt"
    secret.write_text("a long enough password\n", encoding="utf-8")
    by_file = run_cli("user", "add", "li", "--role", "monitor", "--trial", "MSC-COVID-RCT", "--password-file", secret,
                      "--db", db_url)
    assert by_file.code == 0, by_file.stderr
    monkeypatch.setattr("sys.stdin", io.StringIO("another long password\n"))
    by_stdin = run_cli("user", "add", "bo", "--role", "monitor", "--trial", "MSC-COVID-RCT", "--password-stdin",
                       "--db", db_url)
    assert by_stdin.code == 0, by_stdin.stderr
    auth = AuthService(Database(db_url))
    assert auth.login("li", "a long enough password").token
    assert auth.login("bo", "another long password").token
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    monkeypatch.delenv("EQUIPOISE_PASSWORD", raising=False)
    no_terminal = run_cli("user", "add", "cy", "--role", "monitor", "--trial", "MSC-COVID-RCT", "--db", db_url)
    assert no_terminal.code == 2
    assert "--password-file" in no_terminal.stderr
    assert "--password-stdin" in no_terminal.stderr
    both = run_cli("user", "add", "cy", "--role", "monitor", "--trial", "MSC-COVID-RCT", "--password", "x" * 20,
                   "--password-stdin", "--db", db_url)
    assert both.code == 2
    assert "one way" in both.stderr
