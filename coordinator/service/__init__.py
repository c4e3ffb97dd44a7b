"""``haflow serve``: the commands as a JSON HTTP API (FastAPI on uvicorn), with users and
roles, one CIB snapshot refreshed on change, and one event stream for every client.

Above the commands, beside the CLI: it parses requests and renders answers, and every
operation is the command the CLI calls.
"""
