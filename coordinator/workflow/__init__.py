"""Workflow files: the model, loading and validation, and the compiler to CIB XML.

``loader.load(path)`` gives a validated :class:`model.Workflow`;
``compiler.compile_workflow(wf)`` turns it into a CIB fragment.
"""
