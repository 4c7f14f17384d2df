"""Dev-only local Functions host: runs a Python v2 ``function_app.py`` honouring host.json.

Azure Functions Core Tools cannot be installed here; this stands in for ``func start`` in
local runs and tests. Never deployed, never imported by ``shared/``.
"""

from devstack.host.host import FunctionHost

__all__ = ["FunctionHost"]
