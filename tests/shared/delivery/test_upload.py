from shared.delivery.upload import MultipartBody, classify


def read_all(body, size):
    out = b""
    while chunk := body.read(size):
        out += chunk
    return out


def test_multipart_body_streams_with_exact_length():
    body = MultipartBody([b"h1,h2\n", b"a,b\n" * 1000, b""], 6 + 4000, 'we"ird.csv')
    data = read_all(body, 333)
    assert len(data) == body.len
    assert b'name="file"; filename="we_ird.csv"' in data
    assert data.endswith(f"\r\n--{body.boundary}--\r\n".encode())
    assert b"h1,h2\na,b\n" in data


def test_classify_gives_operator_hints():
    err = classify(404, "no such job", None, "job-1")
    assert not err.retryable and "job-1" in str(err) and "no such job" in str(err)
    throttled = classify(429, "", "7", "j")
    assert throttled.retryable and throttled.retry_after == 7
    assert classify(503, "", None, "j").retryable
    assert not classify(400, "", None, "j").retryable


def test_upload_session_honours_proxy_environment(monkeypatch):
    from shared.delivery.upload import upload_session

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.hospital.example:3128")
    monkeypatch.setenv("NO_PROXY", "vault.azure.net,.core.windows.net")
    session = upload_session()
    assert session.trust_env
    proxies = session.merge_environment_settings(
        "https://webhook.ingestion.office.com/api/signals", {}, None, None, None
    )["proxies"]
    assert proxies.get("https") == "http://proxy.hospital.example:3128"
    bypass = session.merge_environment_settings("https://x.blob.core.windows.net/", {}, None, None, None)
    assert not bypass["proxies"].get("https")


def test_without_cuts_the_skipped_ranges_out_of_any_blocking():
    import random

    from shared.delivery.upload import without

    rng = random.Random(7)
    for _ in range(500):
        data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 120)))
        base = rng.randint(0, 50)
        cuts = sorted(
            rng.sample(range(base, base + len(data) + 1), k=min(len(data) + 1, 2 * rng.randint(0, 5)))
        )
        skip = [(a, b) for a, b in zip(cuts[::2], cuts[1::2], strict=False) if a < b]
        blocks, i = [], 0
        while i < len(data):
            size = rng.randint(1, 25)
            blocks.append(data[i : i + size])
            i += size
        expected = bytes(b for j, b in enumerate(data) if not any(a <= base + j < e for a, e in skip))
        assert b"".join(without(blocks, base, skip)) == expected
