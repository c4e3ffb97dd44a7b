"""How a workflow is written into the CIB: every id, meta attribute, record and role.

Stdlib only and written against the ElementTree API, so that the agents (stdlib
``xml.etree``, on their monitor path) and the coordinator (lxml) read and write the
CIB through the same code. Nothing outside this package spells an id suffix or a
meta attribute name.
"""
