"""``python tests/scale/airflow_steps.py '[["dags", "reserialize"], ...]'``: several Airflow CLI
commands in one interpreter (Airflow's own parser and command functions, in order), so a test
pays Airflow's import once instead of once per command."""
import json
import sys

from airflow.cli import cli_parser

if __name__ == "__main__":
    parser = cli_parser.get_parser()
    for argv in json.loads(sys.argv[1]):
        print("+ airflow", " ".join(argv), flush=True)
        args = parser.parse_args(argv)
        args.func(args)
