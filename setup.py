"""One distribution, ``haflow``: the repository's top-level folders map into
the ``haflow`` namespace so that installed import names never collide with
other packages on a cluster node (``haflow.agents``, not ``agents``)."""

from setuptools import setup

# folder in the repository -> import name once installed
PACKAGE_DIRS = {
    "haflow": "haflow_ns",
    "haflow.agents": "agents",
    "haflow.coordinator": "coordinator",
    "haflow.lab": "lab",
    "haflow.cib_templates": "cib_templates",
}

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
    },
    install_requires=[
        "lxml>=4.9",
    ],
    extras_require={
        "test": [
            "pytest>=7.4",
            "hypothesis>=6.80",
            "ruff>=0.4",
            "mypy>=1.8",
            "lxml-stubs",
            # the packaging test builds without isolation, with these
            "setuptools>=61",
            "wheel",
        ],
    },
    entry_points={"console_scripts": ["haflow = haflow.coordinator.cli:main"]},
)
