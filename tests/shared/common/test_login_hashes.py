from shared.common.login_hashes import DIGEST_BYTES, as_upn, digest, digests, fingerprint

KEY = b"k" * 32


def test_a_login_becomes_a_upn_with_an_at_or_with_the_connectors_domain():
    assert as_upn(" Jane.Doe@Contoso-Health.org ") == "jane.doe@contoso-health.org"
    assert as_upn("JDOE123") is None
    assert as_upn("JDOE123", "contoso-health.org") == "jdoe123@contoso-health.org"
    assert as_upn("CONTOSO\\jdoe", "contoso-health.org") == "jdoe@contoso-health.org"
    assert as_upn("", "contoso-health.org") is None


def test_hashes_are_keyed_and_case_blind_and_bare_logins_are_counted_apart():
    found, bare = digests(KEY, ["a@x.org", "A@X.ORG", "bare", "BARE ", "b@x.org"])
    assert len(found) == 2 and len(bare) == 1 and not found & bare
    assert all(len(d) == DIGEST_BYTES for d in found | bare)
    assert digests(KEY, ["bare"], "x.org")[0] == {digest(KEY, "bare@x.org")}
    assert digest(KEY, "a@x.org") != digest(b"other key", "a@x.org")
    assert fingerprint(KEY) != fingerprint(b"other key") and KEY.hex() not in fingerprint(KEY)
