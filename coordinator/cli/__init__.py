"""The ``haflow`` command line: parses arguments, calls commands, renders their data."""
