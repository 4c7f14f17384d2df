"""Local stand-in for Entra ID, managed identity, Key Vault, the Purview ingestion API and
Application Insights ingestion.

Dev-only. It speaks the real wire protocols over TLS so that the unmodified SDK clients
(MSAL, azure-identity, azure-keyvault-secrets, requests, Microsoft's Azure Monitor exporter)
can be pointed at it with
nothing but configuration, which is what lets the app be exercised end to end without
Azure. Nothing here may be imported by the deployed code.
"""

from devstack.emulator.config import EmulatorConfig, FaultConfig
from devstack.emulator.server import Emulator

__all__ = ["Emulator", "EmulatorConfig", "FaultConfig"]
