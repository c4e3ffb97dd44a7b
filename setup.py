"""One distribution, ``haflow``: the repository's top-level folders map into
the ``haflow`` namespace so that installed import names never collide with
other packages on a cluster node (``haflow.agents``, not ``agents``)."""

import os
from pathlib import Path

from setuptools import setup

# Corosync bindings (cffi, API mode): built only where the Corosync -dev headers are
# installed, so haflow still installs without them; importing the bindings then raises
# an error naming the missing packages (docs/corosync-bindings.md).
COROSYNC_HEADERS = ("corotypes.h", "cmap.h", "quorum.h", "votequorum.h", "cpg.h", "cfg.h")


def corosync_cffi_modules() -> list[str]:
    include = Path(os.environ.get("HAFLOW_COROSYNC_INCLUDE", "/usr/include")) / "corosync"
    if os.environ.get("HAFLOW_NO_COROSYNC") == "1":
        return []
    if not all((include / h).exists() for h in COROSYNC_HEADERS):
        print("haflow: Corosync -dev headers not found: building without the Corosync bindings")
        return []
    return ["coordinator/corosync/_build.py:ffibuilder"]


# the repository's folders that install as haflow.<folder>, with every subpackage
# found below them (a hand-kept list once left haflow.coordinator.status out)
INSTALLED_FOLDERS = ("encoding", "agents", "coordinator", "lab", "cib_templates")


def package_dirs() -> dict[str, str]:
    """Import name once installed -> folder in the repository."""
    here = Path(__file__).resolve().parent
    dirs = {"haflow": "haflow_ns"}
    for top in INSTALLED_FOLDERS:
        for init in sorted((here / top).rglob("__init__.py")):
            folder = init.parent.relative_to(here).as_posix()
            dirs["haflow." + folder.replace("/", ".")] = folder
    return dirs


PACKAGE_DIRS = package_dirs()

setup(
    name="haflow",
    version="0.1.0",
    description="Highly available orchestration workflows on Pacemaker and Corosync",
    python_requires=">=3.11",
    package_dir=PACKAGE_DIRS,
    packages=list(PACKAGE_DIRS),
    package_data={
        "haflow.cib_templates": ["*.xml"],
        "haflow.lab": ["*.sh"],
        "haflow": ["py.typed"],
        "haflow.coordinator.workflow": ["*.schema.json"],
        # the web view's page: served by haflow serve, nothing fetched at run time
        "haflow.coordinator.web": ["static/*.html", "static/*.js", "static/*.css"],
    },
    install_requires=[
        "lxml>=4.9",
        "cffi>=1.15",
        "ruamel.yaml>=0.17",
        # libyaml-based parser for ruamel: 5,000-step workflows parse ~10x faster
        "ruamel.yaml.clib>=0.2.7; platform_python_implementation == 'CPython'",
        "jsonschema>=4.0",
        # haflow wait: a progress bar on a terminal
        "rich>=13.0",
        # haflow serve: the HTTP API (OpenAPI generated from the routes and models)
        "fastapi>=0.110",
        "pydantic>=2.5",
        "uvicorn>=0.23",
    ],
    extras_require={
        "test": [
            "pytest>=7.4",
            "pytest-xdist>=3.3",
            "hypothesis>=6.80",
            "ruff>=0.4",
            "mypy>=1.8",
            "lxml-stubs",
            # the import rules of .ci/lint (pyproject.toml [tool.importlinter])
            "import-linter>=2.1",
            "types-jsonschema",
            # generates coordinator/workflow/schema_fast.py (schema_gen.py); its test
            "fastjsonschema>=2.16",
            # the packaging test builds without isolation, with these
            "setuptools>=61",
            "wheel",
            # the API's tests talk HTTP to a real haflow serve
            "httpx>=0.25",
            # the web view's browser tests drive Debian's chromium (no browser download)
            "playwright>=1.40",
            # and Debian's Firefox ESR over WebDriver BiDi (tests/web/bidi.py)
            "websockets>=12",
        ],
    },
    cffi_modules=corosync_cffi_modules(),
    entry_points={
        "console_scripts": ["haflow = haflow.coordinator.cli.main:main"],
        # the lab plugs into the CLI and into cluster access; nothing imports it
        "haflow.cli": ["lab = haflow.lab.cli:register"],
        "haflow.env": ["lab = haflow.lab.env:for_lab"],
    },
)
