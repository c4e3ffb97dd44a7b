import sys

from haflow.coordinator.cli.main import main

sys.exit(main())
