from datetime import UTC, datetime, timedelta

from shared.common import hashsets
from shared.common import ledger as states
from shared.common.entities import RunEntity
from shared.common.hashsets import HashSet
from shared.common.login_hashes import digest
from shared.reporting.coverage import Coverage, as_dict, measure, notes, sentence

NOW = datetime(2026, 12, 6, 6, 0, tzinfo=UTC)
KEY = b"k" * 32


def h(*upns):
    return {digest(KEY, u) for u in upns}


def entry(name, kind, days_ago, fingerprint="f1", overflow=False):
    return HashSet(name, kind, "c", name, fingerprint, 0, 0, overflow, NOW - timedelta(days=days_ago))


def check(entries, stored, statuses, days=7):
    runs = {e.run_id: RunEntity(e.run_id, statuses.get(e.run_id, states.COMPLETE)) for e in entries}
    return measure(entries, runs, NOW, days, lambda e: stored[e.name])


def test_employees_of_recent_audit_runs_against_profiles_of_completed_hr_runs():
    entries = [
        entry("a1", hashsets.AUDIT, 1),
        entry("a2", hashsets.AUDIT, 6),
        entry("a-old", hashsets.AUDIT, 9),  # older than the 7 days counted
        entry("p1", hashsets.PROFILES, 20),
        entry("p-failed", hashsets.PROFILES, 2),  # never reached Purview
        entry("p-gone", hashsets.PROFILES, 31),  # Purview deleted those
    ]
    stored = {
        "a1": (h("a@x", "b@x"), h("bare1")),
        "a2": (h("b@x", "c@x", "d@x"), h("bare1", "bare2")),
        "a-old": (h("old@x"), set()),
        "p1": (h("a@x", "b@x", "z@x"), set()),
        "p-failed": (h("c@x"), set()),
        "p-gone": (h("d@x"), set()),
    }
    c = check(entries, stored, {"p-failed": states.UPLOADING})
    assert (c.employees, c.with_profile, c.without_profile, c.unmatchable, c.profiles) == (4, 2, 2, 2, 3)
    assert sentence(c) == (
        "2 of 4 employees who opened records in the last 7 days have an HR profile; 2 do not: "
        "their access to family and neighbours' records cannot be matched"
    )
    assert notes(c) == [
        "2 more logins have no @ and their connector no login_domain: set it to count them (README, Coverage)"
    ]
    assert as_dict(c)["without_profile"] == 2 and as_dict(c)["line"] == sentence(c)
    assert Coverage.from_dict(as_dict(c)) == c


def test_runs_under_an_older_key_or_too_many_logins_are_left_out_and_said():
    entries = [
        entry("a1", hashsets.AUDIT, 1, fingerprint="new"),
        entry("a0", hashsets.AUDIT, 2, fingerprint="old"),
        entry("a-big", hashsets.AUDIT, 1, fingerprint="new", overflow=True),
    ]
    stored: dict[str, tuple[set[bytes], set[bytes]]] = {
        "a1": (h("a@x"), set()), "a0": (h("b@x"), set()), "a-big": (set(), set()),
    }  # fmt: skip
    c = check(entries, stored, {})
    assert (c.employees, c.with_profile, c.other_key_runs, c.incomplete_runs) == (1, 0, 1, 1)
    assert any("earlier coverage key" in n for n in notes(c))
    assert any("no employee profiles uploaded" in n for n in notes(c))


def test_no_hashes_at_all_points_at_the_key():
    c = check([], {}, {})
    assert c.employees == 0 and any("coverage key" in n for n in notes(c))
