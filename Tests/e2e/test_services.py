"""The three executables as an operator runs them: start, readiness, signals, migrate, bad config."""
import subprocess

import requests

from conftest import service_env

SERVICES = ("collector", "profile-engine", "profile-api")


def test_all_three_services_become_ready_and_stop_on_sigterm(migrated, start_service):
    running = [start_service(name, migrated) for name in SERVICES]
    for service in running:
        service.wait_ready()
        assert requests.get(service.url + "/health", timeout=2).json()["status"] == "ok"
        ready = requests.get(service.url + "/ready", timeout=2)
        assert ready.status_code == 200 and ready.json()["service"] == service.name
        metrics = requests.get(service.url + "/metrics", timeout=2)
        assert metrics.status_code == 200 and "http_requests_total" in metrics.text
    for service in running:
        code, seconds = service.stop()
        assert code == 0, service.logs()
        assert seconds < 5, f"{service.name} took {seconds:.1f}s to stop"


def test_logs_are_structured_json_lines(migrated, start_service):
    import json
    service = start_service("collector", migrated).wait_ready()
    service.stop()
    lines = [line for line in service.logs().splitlines() if line.startswith("{")]
    assert lines, service.logs()
    first = json.loads(lines[0])
    assert {"ts", "level", "msg", "service"} <= first.keys() and first["service"] == "collector"


def test_concurrent_migrate_commands_both_succeed(bin_dir, database):
    env = service_env(database.url)
    runs = [subprocess.Popen([str(bin_dir / name), "migrate"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for name in ("collector", "profile-api", "profile-engine")]
    results = [(p.wait(timeout=60), p.stdout.read(), p.stderr.read()) for p in runs]
    assert all(code == 0 for code, _, _ in results), results
    versions = database.query("SELECT version, count(*) FROM schema_migrations GROUP BY version")
    assert versions and all(count == 1 for _, count in versions)


def test_a_service_refuses_an_unmigrated_database(bin_dir, database):
    result = subprocess.run([str(bin_dir / "collector"), "serve"], env=service_env(database.url, COLLECTOR_PORT=0),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "run `collector migrate`" in result.stdout + result.stderr


def test_a_bad_environment_variable_stops_start_with_its_name(bin_dir, migrated):
    result = subprocess.run([str(bin_dir / "profile-api")], env=service_env(migrated.url, API_PORT="eighty"),
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "API_PORT" in result.stderr and "'eighty' is not an integer" in result.stderr


def test_a_bad_fields_file_stops_start_with_file_and_line(bin_dir, migrated, tmp_path):
    bad = tmp_path / "fields.yaml"
    bad.write_text("fields:\n  - name: email\n    type: email\n    description: e\n  - name: mood\n    type: feelings\n    description: m\n")
    result = subprocess.run([str(bin_dir / "profile-engine")], env=service_env(migrated.url, PROFILE_FIELDS_FILE=bad),
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert f"{bad}:6: field 'mood': unknown type 'feelings'" in result.stderr


def test_help_lists_the_subcommands(bin_dir):
    for name in SERVICES:
        result = subprocess.run([str(bin_dir / name), "--help"], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0
        assert "serve" in result.stdout and "migrate" in result.stdout


def test_dashboard_hash_password_reads_stdin_and_the_api_accepts_its_hash(bin_dir, migrated):
    hashed = subprocess.run([str(bin_dir / "profile-api"), "dashboard", "hash-password"], input="a long enough password\n",
                            capture_output=True, text=True, timeout=60)
    assert hashed.returncode == 0, hashed.stderr
    value = hashed.stdout.strip()
    assert value.startswith("pbkdf2-sha256$600000$") and "long enough" not in value
    # A short password is refused, and nothing is printed on stdout.
    short = subprocess.run([str(bin_dir / "profile-api"), "dashboard", "hash-password"], input="short\n",
                           capture_output=True, text=True, timeout=60)
    assert short.returncode != 0 and short.stdout == "" and "at least 12 characters" in short.stderr
    # A password where the hash belongs stops the API at start, naming the variable.
    bad = subprocess.run([str(bin_dir / "profile-api")], env=service_env(migrated.url, API_PORT=0, DASHBOARD_ADMIN_USER="admin",
                                                                         DASHBOARD_ADMIN_PASSWORD_HASH="a long enough password"),
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0 and "DASHBOARD_ADMIN_PASSWORD_HASH" in bad.stderr
