"""Former home of abort's target-roles: the encoding owns them now (haflow.encoding.write).

Only the names tests/live/test_status_tier0.py still imports are left; new code
imports haflow.encoding.read and haflow.encoding.write.
"""

from __future__ import annotations

from haflow.encoding.read import resources_of, root_of, target_role
from haflow.encoding.write import set_role

__all__ = ["resources_of", "root_of", "set_role", "target_role"]
