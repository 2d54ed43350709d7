"""Run inside a subprocess whose only project code is a ``pip install --target`` of the package
(see test_package_install_integration.py): package data found, DAGs parsed, one DAG test.

argv: TARGET HOUR_ISO. Prints one JSON line of findings for the test to assert on.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

target, hour = Path(sys.argv[1]).resolve(), sys.argv[2]

import ecm  # noqa: E402
from ecm.settings import get_settings, resource_dir  # noqa: E402

out: dict = {"ecm_file": str(Path(ecm.__file__).resolve())}
out["resources"] = {n: str(resource_dir(n)) for n in ("config", "expectations", "dags")}
s = get_settings()
out["district_path"], out["factors_path"] = str(s.district_path), str(s.factors_path)

from ecm.quality import load_suite  # noqa: E402

out["suites"] = sorted(p.stem for p in resource_dir("expectations").glob("*.json"))
for name in ("readings_daily", "aggregates_daily", "stats_monthly"):
    load_suite(name)   # raised ConfigError in an installed image before issue #15
from ecm.factors import get_factors  # noqa: E402
from ecm.registry import get_registry  # noqa: E402

out["enterprises"] = len(get_registry().enterprise_ids)
out["factor_table_version"] = get_factors().table_version
from ecm.report import render  # noqa: E402

out["templates"] = sorted(p.name for p in render._TEMPLATES.iterdir())

# the DAG processor's parser over the installed DAG folder
from airflow.dag_processing.dagbag import DagBag  # noqa: E402

bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
out["import_errors"] = {k: str(v)[:300] for k, v in bag.import_errors.items()}
out["dags"] = sorted(bag.dags)
out["dag_files"] = sorted({str(Path(d.fileloc).resolve()) for d in bag.dags.values()})

dr = bag.dags["ecm_hourly_rollup"].test(run_conf={"hour": hour})
out["run_state"] = str(dr.state)

from airflow.models.dag import DagModel  # noqa: E402
from airflow.utils.session import create_session  # noqa: E402

with create_session() as session:
    m = session.get(DagModel, "ecm_hourly_rollup")
    out["is_paused"] = None if m is None else bool(m.is_paused)
print("SMOKE " + json.dumps(out))
