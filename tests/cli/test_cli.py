import json
import subprocess
import sys

from equipoise import __version__
from tests.conftest import EXAMPLES, ROOT


def test_version(run_cli):
    result = run_cli("--version")
    assert result.code == 0
    assert result.stdout.strip() == f"equipoise {__version__}"


def test_help_lists_the_command_groups(run_cli):
    result = run_cli("--help")
    assert result.code == 0
    assert "protocol" in result.stdout


def test_validate_all_examples_exits_0(run_cli):
    files = sorted(EXAMPLES.glob("*.yaml"))
    result = run_cli("protocol", "validate", *files)
    assert result.code == 0, result.stdout + result.stderr
    assert result.stdout.count(": valid") == len(files) >= 4


def test_validate_json(run_cli):
    result = run_cli("protocol", "validate", EXAMPLES / "covid19-msc-single-arm.yaml", "--json")
    data = json.loads(result.stdout)
    assert data["valid"] is True
    assert data["files"][0]["problems"][0]["severity"] == "warning"


def test_invalid_file_lists_problems_and_exits_2(run_cli, tmp_path):
    bad = tmp_path / "covid.yaml"
    text = (EXAMPLES / "covid19-msc-rct.yaml").read_text().replace("role: placebo\n    allocation: 1",
                                                                    "role: placebo\n    allocation: 0")
    bad.write_text(text)
    line = text[:text.index("allocation: 0")].count("\n") + 1  # the line of the bad value, wherever it moves
    result = run_cli("protocol", "validate", bad)
    assert result.code == 2
    assert f"{bad}:{line} arms[1].allocation: must be > 0 (got 0)" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_missing_file_is_a_clear_error(run_cli, tmp_path):
    result = run_cli("protocol", "validate", tmp_path / "nope.yaml")
    assert result.code == 2
    assert "nope.yaml: no such file" in result.stdout


def test_show_on_a_date_lists_the_arms_in_force(run_cli):
    platform = EXAMPLES / "covid19-platform.yaml"
    early = run_cli("protocol", "show", platform, "--on", "2020-04-01", "--json")
    late = run_cli("protocol", "show", platform, "--on", "2020-07-01", "--json")
    early_arms = [a["id"] for a in json.loads(early.stdout)["protocol"]["arms"]]
    late_data = json.loads(late.stdout)
    assert early_arms == ["usual_care", "dexamethasone", "hydroxychloroquine", "lopinavir"]
    assert [a["id"] for a in late_data["protocol"]["arms"]] == ["usual_care", "dexamethasone", "lopinavir",
                                                                "azithromycin"]
    assert late_data["version"] == "3.0"
    readable = run_cli("protocol", "show", platform, "--on", "2020-07-01")
    assert "azithromycin" in readable.stdout
    assert "Dropped by amendment: hydroxychloroquine" in readable.stdout


def test_show_before_the_trial_started_is_a_user_error(run_cli):
    result = run_cli("protocol", "show", EXAMPLES / "covid19-platform.yaml", "--on", "2019-12-31")
    assert result.code == 2
    assert result.stderr.strip().startswith("--on: no protocol was in force on 2019-12-31")


def test_show_with_a_bad_date(run_cli):
    result = run_cli("protocol", "show", EXAMPLES / "covid19-platform.yaml", "--on", "yesterday")
    assert result.code == 2
    assert "--on: 'yesterday' is not a date in the form YYYY-MM-DD" in result.stderr


def test_show_invalid_protocol_exits_2_with_located_problems(run_cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("trial: {id: X}\n")
    result = run_cli("protocol", "show", bad)
    assert result.code == 2
    assert f"{bad}:1 trial.title: required field is missing" in result.stderr


def test_schema_is_json_schema_of_the_protocol(run_cli, tmp_path):
    result = run_cli("protocol", "schema")
    schema = json.loads(result.stdout)
    assert schema["title"] == "Protocol"
    assert {"trial", "arms", "sites", "outcomes"} <= set(schema["required"])
    assert schema["additionalProperties"] is False
    out = tmp_path / "schema.json"
    assert run_cli("protocol", "schema", "--output", out).code == 0
    assert json.loads(out.read_text()) == schema


def test_unknown_command_exits_2_without_traceback():
    process = subprocess.run([sys.executable, "-m", "equipoise", "protocol", "frobnicate"],
                             capture_output=True, text=True, cwd=ROOT, check=False)
    assert process.returncode == 2
    assert "No such command" in process.stderr
    assert "Traceback" not in process.stderr


def test_bad_yaml_from_a_real_process_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("trial:\n  id: [unclosed\n")
    process = subprocess.run([sys.executable, "-m", "equipoise", "protocol", "validate", str(bad)],
                             capture_output=True, text=True, cwd=ROOT, check=False)
    assert process.returncode == 2
    assert f"{bad}:3: YAML syntax error" in process.stdout
    assert "Traceback" not in process.stdout + process.stderr
