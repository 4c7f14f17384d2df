"""Coverage: how many employees seen in recent audit rows have a current HR profile.

Counted from the keyed hashes the blob stage stored per run (``shared.common.hashsets``), never
from logins: the audit runs of the last ``COVERAGE_DAYS`` days against the profiles of the HR
runs that completed within the 30 days Purview keeps a profile. Hashes made under another key
than the newest run's cannot match and are left out (and counted, so a key change is visible).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Self

from azure.storage.blob import ContainerClient

from shared.common import hashsets
from shared.common import ledger as states
from shared.common.entities import RunEntity
from shared.common.hashsets import HashSet

PROFILE_DAYS = 30
"""Purview deletes an employee profile not refreshed within 30 days."""

Loader = Callable[[HashSet], tuple[set[bytes], set[bytes]]]


@dataclass(frozen=True)
class Coverage:
    days: int
    employees: int
    """Distinct employees (as UPN hashes) in the audit runs of the last ``days``."""
    with_profile: int
    unmatchable: int
    """Distinct bare logins (no ``@``) on connectors without ``login_domain``: not counted above."""
    profiles: int
    """Distinct current profiles: in an HR upload completed within ``PROFILE_DAYS``."""
    audit_runs: int
    profile_runs: int
    incomplete_runs: int
    """Runs with more distinct logins than the scan keeps: left out."""
    other_key_runs: int
    """Runs hashed under another key than the newest run's: left out."""

    @property
    def without_profile(self) -> int:
        return self.employees - self.with_profile

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Back from the report's JSON form (``as_dict``)."""
        return cls(
            data["days"], data["employees"], data["with_profile"], data["unmatchable_logins"],
            data["current_profiles"], data["audit_runs"], data["profile_runs"],
            data["incomplete_runs"], data["other_key_runs"],
        )  # fmt: skip


def measure(
    entries: Iterable[HashSet],
    runs: Mapping[str, RunEntity],
    now: datetime,
    days: int,
    load: Loader,
) -> Coverage:
    """``runs`` are ledger runs by id (HR profiles count only once their upload completed)."""
    audit, profiles, skipped = _chosen(list(entries), runs, now, days)
    employees: set[bytes] = set()
    bare: set[bytes] = set()
    for entry in audit:
        upns, others = load(entry)
        employees |= upns
        bare |= others
    current: set[bytes] = set()
    for entry in profiles:
        current |= load(entry)[0]
    return Coverage(
        days, len(employees), len(employees & current), len(bare), len(current),
        len(audit), len(profiles), skipped["overflow"], skipped["key"],
    )  # fmt: skip


def _chosen(
    entries: list[HashSet], runs: Mapping[str, RunEntity], now: datetime, days: int
) -> tuple[list[HashSet], list[HashSet], dict[str, int]]:
    """The audit and profile hash sets that count, and how many were left out and why."""
    skipped = {"overflow": 0, "key": 0}
    if not entries:
        return [], [], skipped
    key = max(entries, key=lambda e: e.recorded_at).fingerprint
    audit, profiles = [], []
    for entry in entries:
        age = now - entry.recorded_at
        if entry.fingerprint != key or entry.overflow:
            skipped["key" if entry.fingerprint != key else "overflow"] += 1
        elif entry.kind == hashsets.AUDIT and age <= timedelta(days=days):
            audit.append(entry)
        elif entry.kind == hashsets.PROFILES and age <= timedelta(days=PROFILE_DAYS) and _saved(runs, entry):
            profiles.append(entry)
    return audit, profiles, skipped


def _saved(runs: Mapping[str, RunEntity], entry: HashSet) -> bool:
    """The profiles reached Purview: their run completed (a rejected or failing one did not)."""
    run = runs.get(entry.run_id)
    return run is not None and run.status == states.COMPLETE


def sentence(c: Coverage) -> str:
    """The report's line, counts only."""
    line = (
        f"{c.with_profile:,} of {c.employees:,} employees who opened records in the last {c.days} days "
        f"have an HR profile"
    )
    if c.without_profile:
        line += (
            f"; {c.without_profile:,} do not: their access to family and neighbours' records "
            "cannot be matched"
        )
    return line


def notes(c: Coverage) -> list[str]:
    """What keeps the count from being whole, in an operator's words."""
    out = []
    if c.unmatchable:
        out.append(
            f"{c.unmatchable:,} more logins have no @ and their connector no login_domain: set it to "
            "count them (README, Coverage)"
        )
    if c.incomplete_runs:
        out.append(f"{c.incomplete_runs} run(s) had too many distinct logins to count and are left out")
    if c.other_key_runs:
        out.append(f"{c.other_key_runs} run(s) were hashed under an earlier coverage key and are left out")
    if not c.audit_runs:
        out.append(
            f"no audit run recorded coverage hashes in the last {c.days} days: is the coverage key "
            "(COVERAGE_KEY_SECRET_NAME) in Key Vault? infra/scripts/post-deploy.sh creates it"
        )
    if not c.profile_runs:
        out.append("no employee profiles uploaded in the last 30 days: no employee can be matched")
    return out


def as_dict(c: Coverage) -> dict[str, Any]:
    """The report's JSON form: the counts, the line and its notes."""
    return {
        "line": sentence(c),
        "notes": notes(c),
        "days": c.days,
        "employees": c.employees,
        "with_profile": c.with_profile,
        "without_profile": c.without_profile,
        "unmatchable_logins": c.unmatchable,
        "current_profiles": c.profiles,
        "audit_runs": c.audit_runs,
        "profile_runs": c.profile_runs,
        "incomplete_runs": c.incomplete_runs,
        "other_key_runs": c.other_key_runs,
    }


@dataclass
class CoverageSource:
    """The report's I/O for coverage: the hash sets in Storage (older ones deleted as listed)."""

    container: ContainerClient
    days: int = 7

    def measure(self, runs: Mapping[str, RunEntity], now: datetime) -> Coverage:
        entries = hashsets.listing(self.container, now)
        return measure(entries, runs, now, self.days, lambda e: hashsets.digests(self.container, e))
