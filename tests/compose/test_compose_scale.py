"""docker-compose.scale.yml: the `scale` profile (CeleryExecutor, Redis, N workers), validated with
`docker-compose config` over docker-compose.yml, as the operator runs it."""
from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.compose.test_compose import ROOT, project  # noqa: F401 - the generated-secrets project fixture

AIRFLOW = ("airflow-init", "airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
           "airflow-worker")


@pytest.fixture(scope="module")
def scaled(project) -> dict:  # noqa: F811
    r = subprocess.run(["docker-compose", "--project-directory", str(project), "-f", str(project / "docker-compose.yml"),
                        "-f", str(project / "docker-compose.scale.yml"), "--env-file", str(project / ".env"),
                        "--profile", "scale", "config"], capture_output=True, text=True, cwd=project)
    assert r.returncode == 0, r.stderr
    return yaml.safe_load(r.stdout)


def test_every_airflow_service_runs_the_celery_executor_on_redis(scaled):
    svcs = scaled["services"]
    for name in AIRFLOW:
        env = svcs[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0", name
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql+psycopg2://airflow:"), name
    assert "redis" in svcs["airflow-scheduler"]["depends_on"] and "redis" in svcs["airflow-worker"]["depends_on"]


def test_worker_is_the_scheduler_with_another_command(scaled):
    w, s = scaled["services"]["airflow-worker"], scaled["services"]["airflow-scheduler"]
    assert w["command"] == ["airflow", "celery", "worker"]
    assert w["environment"] == s["environment"]
    assert w["image"] == s["image"] and sorted(map(str, w["volumes"])) == sorted(map(str, s["volumes"]))
    assert "celery" in " ".join(w["healthcheck"]["test"])


def test_redis_is_pinned_private_and_healthchecked(scaled):
    r = scaled["services"]["redis"]
    assert r["image"].split(":")[1][0].isdigit()
    assert "ports" not in r
    assert "redis-cli" in " ".join(r["healthcheck"]["test"])


def test_without_the_override_nothing_changes(project):  # noqa: F811
    r = subprocess.run(["docker-compose", "--project-directory", str(project), "-f", str(project / "docker-compose.yml"),
                        "--env-file", str(project / ".env"), "config"], capture_output=True, text=True, cwd=project)
    assert r.returncode == 0, r.stderr
    c = yaml.safe_load(r.stdout)
    assert "redis" not in c["services"] and "airflow-worker" not in c["services"]
    assert c["services"]["airflow-scheduler"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"


def test_image_installs_the_celery_provider():
    assert "apache-airflow-providers-celery" in (ROOT / "Dockerfile").read_text()
