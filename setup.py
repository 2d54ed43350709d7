"""Build step: ship the repository's top-level ``config/``, ``expectations/`` and ``dags/`` inside
the package as ``ecm/_data/<name>/`` (found at run time by ``ecm.settings.resource_dir``).

The repository folders stay the single source; everything else is declared in pyproject.toml.
"""
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
DATA = {"config": ("*.yaml",), "expectations": ("*.json", "*.md"), "dags": ("*.py",)}


class build_py_with_data(build_py):
    def run(self):
        super().run()
        for name, patterns in DATA.items():
            src = HERE / name
            if not src.is_dir():
                raise SystemExit(f"build: {src} missing; build from a source checkout or sdist")
            dst = Path(self.build_lib) / "ecm" / "_data" / name
            dst.mkdir(parents=True, exist_ok=True)
            for pattern in patterns:
                for f in sorted(src.glob(pattern)):
                    self.copy_file(str(f), str(dst / f.name))


setup(cmdclass={"build_py": build_py_with_data})
