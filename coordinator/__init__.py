"""The coordinator: workflow model, compiler, live-CIB access, status and the CLI."""
