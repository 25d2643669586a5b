"""Every endpoint of the label server, good and bad requests, through Starlette's TestClient."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

from fewlabel.label import build_session, create_app
from tests.label.conftest import NAMES, particle_centers

TOKEN = "test-token-123"
FACTOR = 2


def read(path):
    from fewlabel.io.picks import read_picks

    return read_picks(path)


@pytest.fixture
def label_app(mic_dir, tmp_path):
    out = tmp_path / "labels.star"
    session = build_session(mic_dir, out, diameter=24, downsample=FACTOR, token=TOKEN)
    client = TestClient(create_app(session), raise_server_exceptions=False)
    client.headers["X-Fewlabel-Token"] = TOKEN
    return client, out


@pytest.fixture
def review_app(mic_dir, scored_picks, tmp_path):
    out = tmp_path / "reviewed.tsv"
    session = build_session(mic_dir, out, diameter=24, picks=scored_picks, downsample=FACTOR,
                            token=TOKEN)
    client = TestClient(create_app(session), raise_server_exceptions=False)
    client.headers["X-Fewlabel-Token"] = TOKEN
    return client, out


# -- token -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/api/session", "/api/micrographs/0/image.png",
                                  "/api/micrographs/0/picks", "/nonexistent"])
def test_every_path_needs_the_token(label_app, path):
    client, _ = label_app
    assert client.get(path, headers={"X-Fewlabel-Token": ""}).status_code == 403
    assert client.get(path, headers={"X-Fewlabel-Token": "wrong"}).status_code == 403
    assert client.get(path + "?token=wrong", headers={"X-Fewlabel-Token": ""}).status_code == 403


def test_token_in_query_or_header(label_app):
    client, _ = label_app
    assert client.get(f"/api/session?token={TOKEN}", headers={"X-Fewlabel-Token": ""}).status_code == 200
    assert client.get("/api/session").status_code == 200
    assert client.post("/api/current", json={"micrograph": 0},
                       headers={"X-Fewlabel-Token": "nope"}).status_code == 403


# -- page and static files -----------------------------------------------------------------


def test_page_carries_token_and_security_headers(label_app):
    client, _ = label_app
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert f'content="{TOKEN}"' in r.text and "__FEWLABEL_TOKEN__" not in r.text
    assert f"/static/app.js?token={TOKEN}" in r.text
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["referrer-policy"] == "no-referrer"


def test_static_files_whitelisted(label_app):
    client, _ = label_app
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "X-Fewlabel-Token" in js.text
    assert client.get("/static/style.css").headers["content-type"].startswith("text/css")
    for bad in ["index.html", "..%2Fserver.py", "server.py", "%2E%2E%2F__init__.py"]:
        assert client.get(f"/static/{bad}").status_code == 404


# -- session, images, picks ------------------------------------------------------------------


def test_session_lists_micrographs(label_app):
    client, _ = label_app
    s = client.get("/api/session").json()
    assert s["mode"] == "label" and s["diameter"] == 24 and s["total"] == 0
    assert [m["name"] for m in s["micrographs"]] == NAMES  # notes.txt is not a micrograph
    assert s["threshold"] is None and s["current"] == 0 and s["output"] == "labels.star"


@pytest.mark.parametrize("key", ["1", "mic_b"])
def test_image_by_index_or_name(label_app, key):
    client, _ = label_app
    r = client.get(f"/api/micrographs/{key}/image.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = Image.open(io.BytesIO(r.content))
    assert img.size == (160, 120)
    # the particle at the first center of mic_b is darker than the image median
    x, y = particle_centers(1)[0]
    pixels = img.load()
    assert pixels[x // FACTOR, y // FACTOR] < int(np.median(np.asarray(img))) - 40


def test_image_request_prefetches_the_next_micrograph(mic_dir, tmp_path):
    session = build_session(mic_dir, tmp_path / "l.star", diameter=24, downsample=FACTOR, token=TOKEN)
    client = TestClient(create_app(session), raise_server_exceptions=False)
    client.headers["X-Fewlabel-Token"] = TOKEN
    assert session.paths[1] not in session.images._cache
    assert client.get("/api/micrographs/0/image.png").status_code == 200
    assert session.paths[1] in session.images._cache
    assert session.paths[2] not in session.images._cache


def test_add_and_remove_picks_save_original_pixels(label_app):
    client, out = label_app
    r = client.post("/api/micrographs/mic_b/picks", json={"x": 40.5, "y": 30})
    assert r.status_code == 201
    added = r.json()
    assert added["manual"] and added["count"] == 1 and added["total"] == 1
    saved = read(out)
    assert list(saved["image_name"]) == ["mic_b"]
    assert saved["x_coord"].iloc[0] == pytest.approx(40.5 * FACTOR, abs=0.5)
    assert saved["y_coord"].iloc[0] == pytest.approx(30 * FACTOR, abs=0.5)

    got = client.get("/api/micrographs/1/picks").json()
    assert (got["width"], got["height"], got["factor"]) == (160, 120, FACTOR)
    assert got["radius"] == pytest.approx(24 / 2 / FACTOR)
    assert [(p["id"], p["x"], p["y"]) for p in got["picks"]] == [(added["id"], 40.5, 30)]

    client.post("/api/micrographs/0/picks", json={"x": 1, "y": 2})
    r = client.delete(f"/api/picks/{added['id']}")
    assert r.status_code == 200 and r.json()["count"] == 0 and r.json()["total"] == 1
    assert list(read(out)["image_name"]) == ["mic_a"]
    assert client.delete(f"/api/picks/{added['id']}").status_code == 404
    assert client.get("/api/session").json()["total"] == 1


def test_current_is_remembered_for_restart(label_app, mic_dir):
    client, out = label_app
    assert client.post("/api/current", json={"micrograph": "mic_c"}).json() == {"current": 2}
    client.post("/api/micrographs/2/picks", json={"x": 10, "y": 10})
    again = build_session(mic_dir, out, diameter=24, downsample=FACTOR, token=TOKEN)
    assert again.store.current == 2 and len(again.store.kept("mic_c")) == 1


def test_review_threshold_endpoint(review_app):
    client, out = review_app
    s = client.get("/api/session").json()
    assert s["mode"] == "review" and s["total"] == 12
    assert s["score_range"] == pytest.approx([0.1, 0.8])
    assert s["scores"] == sorted(s["scores"]) and len(s["scores"]) == 12
    picks = client.get("/api/micrographs/0/picks").json()["picks"]
    x, y = particle_centers(0)[2]
    assert any(abs(p["x"] - x / FACTOR) < 1e-6 and abs(p["y"] - y / FACTOR) < 1e-6 for p in picks)

    r = client.post("/api/threshold", json={"threshold": 0.5})
    assert r.status_code == 200
    body = r.json()
    assert body["kept"] == 6 and body["counts"] == {"mic_a": 2, "mic_b": 2, "mic_c": 2}
    saved = read(out)
    assert len(saved) == 6 and saved["score"].min() >= 0.5


def test_threshold_refused_in_label_mode(label_app):
    client, _ = label_app
    assert client.post("/api/threshold", json={"threshold": 0.5}).status_code == 409


# -- hostile and malformed requests ----------------------------------------------------------

TRAVERSALS = [
    "../labels.star", "..%2Flabels.star", "%2E%2E%2Flabels.star", "..%252Flabels.star",
    "%252E%252E%252Flabels.star", "/etc/passwd", "%2Fetc%2Fpasswd", "%252Fetc%252Fpasswd",
    "..", "%2E%2E", "mic_a.mrc", "3", "-1", "999999999999", "1e0", "%00", "mic_a%00",
    "..%5C..%5Cwindows", "C:%5Cwindows", "%C0%AE%C0%AE%2F",
]


@pytest.mark.parametrize("key", TRAVERSALS)
def test_no_path_reaches_the_filesystem(label_app, key):
    client, _ = label_app
    for url in (f"/api/micrographs/{key}/image.png", f"/api/micrographs/{key}/picks"):
        r = client.get(url)
        assert r.status_code == 404, (url, r.status_code)
        assert r.headers["content-type"].startswith("application/json") or r.status_code == 404
    r = client.post(f"/api/micrographs/{key}/picks", json={"x": 1, "y": 1})
    assert r.status_code in (400, 404)


@pytest.mark.parametrize("url", ["/../../etc/passwd", "/static/../store.py", "/static/%2E%2E/store.py",
                                 "/api/micrographs/0/../../../etc/passwd", "//etc/passwd"])
def test_raw_traversal_urls(label_app, url):
    client, _ = label_app
    r = client.get(url)
    assert r.status_code in (403, 404) and b"root:" not in r.content


@pytest.mark.parametrize("body", [
    b"", b"not json", b"[1, 2]", b'"x"', b"{", b'{"x": 1}', b'{"y": 1}', b'{"x": "1", "y": 1}',
    b'{"x": NaN, "y": 1}', b'{"x": Infinity, "y": 1}', b'{"x": true, "y": 1}', b'{"x": null, "y": 1}',
    b'{"x": -1, "y": 1}', b'{"x": 160, "y": 1}', b'{"x": 1, "y": 120}', b'{"x": 1e400, "y": 1}',
    b"\xff\xfe", b"[" * 5000 + b"]" * 5000,
])
def test_malformed_add_is_400(label_app, body):
    client, out = label_app
    r = client.post("/api/micrographs/0/picks", content=body,
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400, (body[:40], r.status_code)
    assert "error" in r.json()
    assert not out.exists()


def test_oversized_body_is_413(label_app):
    client, _ = label_app
    big = b'{"x": 1, "y": 1, "pad": "' + b"a" * 100_000 + b'"}'
    assert client.post("/api/micrographs/0/picks", content=big).status_code == 413


@pytest.mark.parametrize("method,url,body", [
    ("post", "/api/threshold", b'{"threshold": "high"}'),
    ("post", "/api/threshold", b'{"threshold": NaN}'),
    ("post", "/api/threshold", b"{}"),
    ("post", "/api/current", b'{"micrograph": ["mic_a"]}'),
    ("post", "/api/current", b'{"micrograph": true}'),
    ("post", "/api/current", b"nope"),
])
def test_malformed_review_and_current_are_4xx(review_app, method, url, body):
    client, _ = review_app
    r = getattr(client, method)(url, content=body)
    assert 400 <= r.status_code < 500 and "error" in r.json()


def test_wrong_methods_and_ids(label_app):
    client, _ = label_app
    assert client.post("/api/session").status_code == 405
    assert client.put("/api/micrographs/0/picks", json={"x": 1, "y": 1}).status_code == 405
    assert client.delete("/api/picks/abc").status_code == 404
    assert client.delete("/api/picks/-1").status_code == 404
    assert client.delete("/api/picks/99999999999999999999").status_code == 404
    assert client.get("/api/current").status_code == 405
    assert client.post("/api/current", json={"micrograph": "../mic_a"}).status_code == 404


def test_unreadable_micrograph_is_422(mic_dir, tmp_path):
    (mic_dir / "broken.mrc").write_bytes(b"this is not an MRC file")
    session = build_session(mic_dir, tmp_path / "l.star", diameter=24, token=TOKEN)
    client = TestClient(create_app(session), raise_server_exceptions=False)
    client.headers["X-Fewlabel-Token"] = TOKEN
    assert client.get("/api/micrographs/broken/image.png").status_code == 422
    assert client.get("/api/micrographs/mic_a/image.png").status_code == 200
