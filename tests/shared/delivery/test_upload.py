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


def test_a_reply_of_any_size_is_read_only_as_far_as_its_excerpt():
    """A reply announcing a gigabyte is cut after its excerpt, not held in memory whole: the
    server sends 64 KB and then waits, so reading the whole body would time out instead."""
    import http.server
    import threading

    import requests

    from shared.delivery.upload import RESPONSE_EXCERPT, UploadError, post_chunk

    release = threading.Event()

    class Huge(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(400)
            self.send_header("Content-Length", str(10**9))
            self.end_headers()
            self.wfile.write(b"x" * 65536)
            self.wfile.flush()
            release.wait(30)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Huge)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        body = MultipartBody([b"h\n", b"a\n"], 4, "x.csv")
        url = f"http://127.0.0.1:{server.server_port}/api/signals"
        try:
            post_chunk(requests.Session(), url, "job", "token", body, (5, 10))
        except UploadError as err:
            assert err.status == 400
            assert len(err.api_said) == RESPONSE_EXCERPT
        else:
            raise AssertionError("a 400 must raise")
    finally:
        release.set()
        server.shutdown()
        server.server_close()
