"""``haflow status --output-as xml``: one element per workflow and step, attributes as in
the JSON (the text rendering is the CLI's: cli/live.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

if TYPE_CHECKING:
    from haflow.coordinator.status.model import WorkflowStatus


def to_xml(workflows: list[WorkflowStatus]) -> etree._Element:
    """A step's scalar fields become attributes (``_`` as ``-``; unset ones left out),
    its waiting-on, outputs, fail counts and failure child elements."""
    root = etree.Element("haflow-status")
    for wf in workflows:
        w = etree.SubElement(root, "workflow", name=wf.name, state=wf.state.value,
                             policy=wf.policy, aborted=str(wf.aborted).lower())
        for step in wf.steps:
            attrs = {k.replace("_", "-"): str(v) for k, v in step.to_dict().items()
                     if v is not None and not isinstance(v, dict | list)}
            s = etree.SubElement(w, "step", attrs)
            for node in step.waiting_on:
                etree.SubElement(s, "waiting-on", step=node)
            for key, value in step.outputs.items():
                etree.SubElement(s, "output", name=key, value=value)
            for node, count in step.fail_count.items():
                etree.SubElement(s, "fail-count", node=node, count=str(count))
            if step.failure is not None:
                etree.SubElement(s, "failure", {k.replace("_", "-"): str(v) for k, v in
                                                step.failure.to_dict().items()
                                                if v is not None})
    return root
