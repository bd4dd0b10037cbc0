"""The boundaries docs/architecture.md promises, checked on the code: no import circle inside the engine,
and the import-linter contracts of pyproject.toml (the engine imports no Prefect; flows and deployments use
only the engine's public modules)."""
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[3]


def test_no_import_circle_in_the_engine():
    graph = grimp.build_graph("btk_core", include_external_packages=False)
    circles = sorted({tuple(sorted((a, b))) for a in graph.modules for b in graph.find_modules_directly_imported_by(a)
                      if graph.chain_exists(importer=b, imported=a)})
    assert circles == []


def test_the_import_contracts_hold():
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports, "import-linter is in the dev extra"
    done = subprocess.run([lint_imports], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "Contracts: 2 kept, 0 broken." in done.stdout
