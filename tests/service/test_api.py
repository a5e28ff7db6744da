"""The HTTP routes through the ASGI app (TestClient): answers and every error path."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lithoscope.pipeline.identify import identify_batch
from lithoscope.pipeline.registry import Registry
from lithoscope.spectra.io import parse_bytes
from tests.service.conftest import TOKEN, make_settings, serving

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _text(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    (s,) = parse_bytes(data, "x.txt", method="raman")
    return s.axis, s.intensities


# ------------------------------------------------------------------ system


def test_health_ready_models_and_openapi(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["models"] == ["raman-library@1"]
    models = client.get("/v1/models").json()
    (served,) = models["served"]
    assert served["model"] == "raman-library@1" and served["methods"] == ["raman"]
    assert served["mixture"] == {"raman": True}
    assert models["defaults"] == {"raman": "raman-library"}
    doc = client.get("/openapi.json").json()
    assert {"/v1/identify", "/v1/minerals", "/v1/learn", "/readyz"} <= set(doc["paths"])
    body = doc["paths"]["/v1/identify"]["post"]["requestBody"]["content"]
    assert set(body) == {"multipart/form-data", "application/json"}
    assert "IdentifyRequest" in doc["components"]["schemas"]


def test_readyz_is_503_until_loaded_and_says_why(tmp_path, monkeypatch):
    from lithoscope.service import state as state_module

    def fail(self):
        raise RuntimeError("MinDB unreachable (test)")

    monkeypatch.setattr(state_module.ServiceState, "_load", fail)
    for client in serving(make_settings(tmp_path / "empty")):
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.json() == {
            "detail": "the service could not load MinDB or its models: MinDB unreachable (test)"
        }
        assert client.get("/healthz").status_code == 200
        r = client.post("/v1/identify", files=[("files", ("a.txt", b"1,2\n3,4\n"))])
        assert r.status_code == 503


def test_page_is_served_when_installed(client):
    from lithoscope.service.routes.system import STATIC

    r = client.get("/")
    if (STATIC / "index.html").is_file():
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    else:
        assert r.status_code == 404 and "no web page" in r.json()["detail"]


# ------------------------------------------------------------------ identify


def test_identify_files_gives_the_cli_json(client, held_out, trained_dir):
    name, data = held_out["Forsterite"]
    r = client.post("/v1/identify", files=[("files", (name, data))], data={"top": "3"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["errors"] == [] and len(doc["results"]) == 1
    answer = doc["results"][0]
    # the same library call the CLI makes gives the same JSON
    bundle, _ = Registry(trained_dir / "models").load(None, method="raman")
    expected = identify_batch(parse_bytes(data, name), bundle, top=3)[0].to_dict()
    assert answer["input"] == name
    assert [c["mineral"] for c in answer["candidates"]] == [
        c["mineral"] for c in expected["candidates"]
    ]
    np.testing.assert_allclose(
        [c["probability"] for c in answer["candidates"]],
        [c["probability"] for c in expected["candidates"]],
        rtol=1e-6,
    )
    assert answer["candidates"][0]["mineral"] == "Forsterite"
    assert answer["candidates"][0]["formula"] == "Mg2SiO4"  # MinDB facts
    assert "explanation" not in answer


def test_identify_several_files_with_options(client, held_out):
    files = [("files", held_out[m]) for m in ("Quartz", "Calcite", "Diopside")]
    r = client.post(
        "/v1/identify",
        files=files,
        data={"body": "mars", "confidence": "0.8", "top": "2", "explain": "true"},
    )
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [a["input"] for a in results] == [f[1][0] for f in files]
    for answer, mineral in zip(results, ("Quartz", "Calcite", "Diopside"), strict=True):
        assert len(answer["candidates"]) == 2
        assert answer["candidates"][0]["mineral"] == mineral
        assert answer["context"] == {"body": "mars"}
        assert "explanation" in answer


def test_identify_reports_a_bad_file_and_answers_the_others(client, held_out):
    good = held_out["Quartz"]
    r = client.post(
        "/v1/identify",
        files=[("files", ("junk.txt", b"hello world\n")), ("files", good)],
    )
    assert r.status_code == 200
    doc = r.json()
    assert [a["input"] for a in doc["results"]] == [good[0]]
    (error,) = doc["errors"]
    assert error["index"] == 0 and error["input"] == "junk.txt"
    assert error["detail"].startswith("junk.txt: not a known spectrum format")


def test_identify_only_bad_files_is_422_with_the_readers_message(client):
    r = client.post("/v1/identify", files=[("files", ("one.txt", b"100, 5\n"))])
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "one.txt line 1: the only data point; a spectrum needs at least 2 lines of "
        "'axis, intensity'"
    )


def test_identify_per_file_methods_and_missing_models(client, held_out):
    axis, y = _text(held_out["Quartz"][1])
    two_col = "\n".join(f"{a},{b}" for a, b in zip(axis, y, strict=True)).encode()
    # plain two columns need a method; 'ir' has no served model: reported, raman answered
    r = client.post(
        "/v1/identify",
        files=[("files", ("a.csv", two_col)), ("files", ("b.csv", two_col))],
        data={"methods": "raman,ir"},
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    assert [a["input"] for a in doc["results"]] == ["a.csv"]
    assert doc["results"][0]["candidates"][0]["mineral"] == "Quartz"
    assert doc["errors"][0]["index"] == 1
    assert doc["errors"][0]["detail"].startswith("no ir model is served (served: raman)")
    # the same file with one method for all
    r = client.post("/v1/identify", files=[("files", ("a.csv", two_col))], data={"method": "raman"})
    assert r.json()["results"][0]["candidates"][0]["mineral"] == "Quartz"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"top": "0"}, "top: Input should be greater than or equal to 1"),
        ({"confidence": "2"}, "confidence: Input should be less than or equal to 0.999"),
        ({"body": "venus"}, "body: Input should be 'moon', 'mars', 'meteorite' or 'earth'"),
        ({"mixture": "perhaps"}, "mixture: Input should be a valid boolean"),
        ({"method": "sonar"}, "method 'sonar' is not one of raman, ir, libs, vnir, xrd"),
        ({"methods": "raman,raman"}, "'methods' names 2 method(s) for 1 file(s)"),
        ({"colour": "red"}, "unknown form field 'colour'"),
    ],
)
def test_identify_form_errors_are_422_one_line(client, held_out, data, message):
    r = client.post("/v1/identify", files=[("files", held_out["Quartz"])], data=data)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail
    assert detail.startswith(message)


def test_identify_without_files_or_with_text_for_files(client):
    r = client.post("/v1/identify", data={"top": "3"}, files=[("other", ("x", b""))])
    assert r.status_code == 422
    r = client.post("/v1/identify", files={"top": (None, "3")})
    assert r.status_code == 422
    assert r.json()["detail"].startswith("no file")


def test_identify_json_arrays(client, held_out):
    axis, y = _text(held_out["Calcite"][1])
    one = {"axis": axis.tolist(), "intensities": y.tolist(), "method": "raman", "name": "c1"}
    r = client.post("/v1/identify", json={**one, "top": 2})
    assert r.status_code == 200, r.text
    (answer,) = r.json()["results"]
    assert answer["input"] == "c1" and answer["candidates"][0]["mineral"] == "Calcite"
    r = client.post("/v1/identify", json={"spectra": [one, {**one, "name": "c2"}]})
    assert [a["input"] for a in r.json()["results"]] == ["c1", "c2"]


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        ({"axis": [1, 2, 3]}, 422, "give 'axis', 'intensities' and 'method'"),
        (
            {"axis": [3, 2, 1], "intensities": [1, 2, 3], "method": "raman"},
            422,
            "spectrum-1: axis must be strictly increasing",
        ),
        ({"axis": [1, 2], "intensities": [1, 2], "method": "x"}, 422, "method: Input should be"),
        ({"spectra": []}, 422, "spectra: List should have at least 1 item"),
        ([1, 2], 422, "Input should be an object"),
    ],
)
def test_identify_json_errors(client, payload, status, message):
    r = client.post("/v1/identify", json=payload)
    assert r.status_code == status
    assert message in r.json()["detail"]


def test_identify_bad_json_and_content_types(client):
    r = client.post(
        "/v1/identify", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["detail"].startswith("body: Invalid JSON")
    r = client.post("/v1/identify", content=b"100,1\n", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    assert "'text/plain' is not accepted" in r.json()["detail"]
    r = client.post(
        "/v1/identify",
        content=b"--xx\r\nbroken",
        headers={"content-type": "multipart/form-data; boundary=xx"},
    )
    assert r.status_code in (400, 422)
    assert isinstance(r.json()["detail"], str)


def test_identify_mixture(client, trained_dir):
    from lithoscope.pipeline.bundle import IdentificationModel

    bundle = IdentificationModel.load(
        Registry(trained_dir / "models").resolve("raman-library").path
    )
    unmixer = bundle.part("raman").mixture.unmixer
    classes = unmixer.classes_.tolist()
    y = np.zeros(unmixer.axis_.size)
    for name, fraction in {"Forsterite": 0.6, "Anorthite": 0.4}.items():
        j = classes.index(name)
        ref = unmixer.references_[unmixer.reference_labels_ == j].mean(axis=0)
        y += fraction * unmixer.efficiencies_[j] * ref / ref.max()
    payload = {
        "axis": unmixer.axis_.tolist(),
        "intensities": (y + 0.05).tolist(),
        "method": "raman",
        "name": "rock",
        "mixture": True,
        "body": "moon",
    }
    r = client.post("/v1/identify", json=payload)
    assert r.status_code == 200, r.text
    (answer,) = r.json()["results"]
    assert answer["input"] == "rock"
    present = {m["mineral"] for m in answer["minerals"] if m["present"]}
    assert {"Forsterite", "Anorthite"} <= present


def test_upload_limit_checked_on_content_length_and_while_streaming(trained_dir):
    for client in serving(make_settings(trained_dir, max_upload_bytes=1000)):
        r = client.post("/v1/identify", files=[("files", ("big.txt", b"1,2\n" * 400))])
        assert r.status_code == 413
        assert r.json()["detail"].startswith("request body is larger than the 1000 bytes")

        def chunks():
            for _ in range(100):
                yield b"x" * 100

        r = client.post(
            "/v1/identify", content=chunks(), headers={"content-type": "application/json"}
        )
        assert r.status_code == 413
        r = client.post(
            "/v1/identify",
            content=b"{}",
            headers={"content-type": "application/json", "content-length": "abc"},
        )
        assert r.status_code == 400


# ------------------------------------------------------------------ minerals


def test_minerals_search_paged(client):
    r = client.get("/v1/minerals", params={"body": "moon", "element": "Ti", "limit": 3})
    assert r.status_code == 200
    page = r.json()
    assert len(page["items"]) == 3 and page["next_offset"] == 3
    assert all("Ti" in row["elements"] and "moon" in row["bodies"] for row in page["items"])
    everything = client.get(
        "/v1/minerals", params={"body": "moon", "element": "Ti", "limit": 500}
    ).json()
    assert everything["next_offset"] is None
    second = client.get(
        "/v1/minerals", params={"body": "moon", "element": "Ti", "limit": 3, "offset": 3}
    ).json()
    assert second["items"] == everything["items"][3:6]
    r = client.get("/v1/minerals", params={"q": "oliv"})
    assert r.status_code == 200
    r = client.get("/v1/minerals", params={"element": "Xx"})
    assert r.status_code == 422 and "not an element symbol" in r.json()["detail"]
    r = client.get("/v1/minerals", params={"body": "venus"})
    assert r.status_code == 422 and r.json()["detail"].startswith("--body 'venus'")
    r = client.get("/v1/minerals", params={"limit": 0})
    assert r.status_code == 422 and r.json()["detail"].startswith("query.limit")


def test_mineral_card_and_spectra(client):
    card = client.get("/v1/minerals/forsterite").json()
    assert card["name"] == "Forsterite" and card["formula"] == "Mg2SiO4"
    assert client.get("/v1/minerals/olivine").json()["kind"] == "group"
    r = client.get("/v1/minerals/unobtainium")
    assert r.status_code == 404 and "'unobtainium' is not in MinDB" in r.json()["detail"]
    page = client.get("/v1/minerals/Forsterite/spectra", params={"limit": 2}).json()
    assert page["mineral"] == "Forsterite" and len(page["items"]) == 2
    first = page["items"][0]
    assert first["method"] == "raman" and len(first["axis"]) == len(first["intensities"])
    assert first["metadata"]["mineral"] == "Forsterite"
    assert page["next_offset"] == 2
    r = client.get("/v1/minerals/unobtainium/spectra")
    assert r.status_code == 404
    r = client.get("/v1/minerals/Forsterite/spectra", params={"method": "sonar"})
    assert r.status_code == 422


# ------------------------------------------------------------------ writes


def test_writes_need_the_token(client, held_out):
    files = [("files", held_out["Quartz"])]
    r = client.post("/v1/minerals/Quartz/spectra", files=files)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in r.json()["detail"]
    r = client.post(
        "/v1/minerals/Quartz/spectra", files=files, headers={"Authorization": "Bearer nope"}
    )
    assert r.status_code == 401 and "not this server's API token" in r.json()["detail"]
    r = client.post("/v1/learn", files=files, data={"mineral": "Quartz"})
    assert r.status_code == 401


def test_writes_are_off_without_a_configured_token(trained_dir, held_out):
    for client in serving(make_settings(trained_dir, api_token=None)):
        r = client.post(
            "/v1/minerals/Quartz/spectra", files=[("files", held_out["Quartz"])], headers=AUTH
        )
        assert r.status_code == 401 and r.json()["detail"].startswith("writes are off")


def test_add_spectra(write_client, held_out):
    name, data = held_out["Quartz"]
    before = write_client.get("/v1/minerals/Quartz").json()["spectra"].get("raman", 0)
    r = write_client.post(
        "/v1/minerals/Quartz/spectra", files=[("files", (name, data))], headers=AUTH
    )
    assert r.status_code == 201, r.text
    assert r.json()["added"] == 1
    assert write_client.get("/v1/minerals/Quartz").json()["spectra"]["raman"] == before + 1
    again = write_client.post(
        "/v1/minerals/Quartz/spectra", files=[("files", (name, data))], headers=AUTH
    )
    assert again.json()["added"] == 0 and again.json()["already_present"] == 1
    r = write_client.post(
        "/v1/minerals/unobtainium/spectra", files=[("files", (name, data))], headers=AUTH
    )
    assert r.status_code == 404
    r = write_client.post(
        "/v1/minerals/Quartz/spectra", files=[("files", ("bad.txt", b"nope"))], headers=AUTH
    )
    assert r.status_code == 422 and r.json()["detail"].startswith("bad.txt:")
    axis, y = _text(data)
    r = write_client.post(
        "/v1/minerals/Quartz/spectra",
        json={
            "spectra": [{"axis": axis.tolist(), "intensities": (y * 2).tolist(), "method": "raman"}]
        },
        headers=AUTH,
    )
    assert r.status_code == 201 and r.json()["added"] == 1


def test_learn_serves_the_new_version(write_client, raman_files):
    # Beryl and Topaz are in MinDB; learn a mineral the model does not know
    before = write_client.get("/v1/models").json()["served"][0]
    newcomer = "Diopside" if before["classes"]["raman"] < 13 else None
    known = write_client.post("/v1/identify", files=[("files", raman_files["Quartz"][0])])
    assert known.status_code == 200
    files = [("files", f) for f in raman_files["Quartz"][:2]]
    r = write_client.post("/v1/learn", files=files, data={"mineral": "Testite"}, headers=AUTH)
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "mineral 'Testite' is not in MinDB; give its formula with --formula to add it"
    )
    r = write_client.post(
        "/v1/learn",
        files=files,
        data={"mineral": "Testite", "formula": "SiO2"},
        headers=AUTH,
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["model"] == "raman-library@2" and doc["parent"] == "raman-library@1"
    assert doc["mineral"] == "Testite" and doc["mineral_added_to_mindb"] is True
    served = write_client.get("/v1/models").json()["served"][0]
    assert served["model"] == "raman-library@2"
    assert served["classes"]["raman"] == before["classes"]["raman"] + 1
    answer = write_client.post("/v1/identify", files=[files[0]]).json()["results"][0]
    assert answer["model"] == "raman-library@2"
    assert "Testite" in {c["mineral"] for c in answer["candidates"]}
    del newcomer


def test_cors_closed_by_default_and_open_when_configured(client, trained_dir):
    r = client.options(
        "/v1/identify",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in r.headers
    settings = make_settings(trained_dir, cors_origins=["https://lab.example"])
    for open_client in serving(settings):
        r = open_client.get("/healthz", headers={"Origin": "https://lab.example"})
        assert r.headers["access-control-allow-origin"] == "https://lab.example"
        r = open_client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers


# ------------------------------------------------------------------ stream


def test_stream_answers_in_order_and_keeps_errors_in_the_socket(client, held_out):
    axis, y = _text(held_out["Quartz"][1])
    with client.websocket_connect("/v1/stream?top=2&body=moon&method=raman") as ws:
        ws.send_text(
            json.dumps(
                {"axis": axis.tolist(), "intensities": y.tolist(), "method": "raman", "id": 7}
            )
        )
        first = ws.receive_json()
        assert first["id"] == 7 and first["candidates"][0]["mineral"] == "Quartz"
        assert len(first["candidates"]) == 2 and first["context"] == {"body": "moon"}
        ws.send_text("{broken")
        assert ws.receive_json()["error"].startswith("message 2: not valid JSON")
        ws.send_text(
            json.dumps({"axis": [1, 2], "intensities": [1, 2, 3], "method": "raman", "id": "b"})
        )
        bad = ws.receive_json()
        assert (
            bad["id"] == "b" and "axis and intensities must be 1-D of equal length" in bad["error"]
        )
        ws.send_text(held_out["Calcite"][1].decode("latin-1"))
        assert ws.receive_json()["candidates"][0]["mineral"] == "Calcite"
        ws.send_bytes(held_out["Diopside"][1])
        assert ws.receive_json()["candidates"][0]["mineral"] == "Diopside"


def test_stream_refuses_bad_options(client):
    with client.websocket_connect("/v1/stream?top=0") as ws:
        assert ws.receive_json()["error"].startswith("top: Input should be greater")


def test_identify_group_measurement_fuses_the_files_of_one_sample(client, held_out, shared_data):
    from lithoscope.physics.libs import load_atomic_data, simulate

    raman = held_out["Forsterite"]
    sim = simulate("Mg2SiO4", atomic=load_atomic_data(mirror=shared_data))
    x, y = sim.spectrum.axis, sim.spectrum.intensities
    libs = "\n".join(f"{a:.4f},{b:.6g}" for a, b in zip(x, y, strict=True)).encode()
    r = client.post(
        "/v1/identify",
        files=[("files", raman), ("files", ("shot.csv", libs))],
        data={"methods": "auto,libs", "group": "measurement"},
    )
    assert r.status_code == 200, r.text
    (answer,) = r.json()["results"]
    # one answer for the sample: Raman identifies, LIBS (no LIBS model served) is chemistry
    # evidence, as in ``lithoscope identify --raman a --libs b``
    assert answer["input"] == f"{raman[0]} + shot.csv"
    assert any("the LIBS spectrum is used as evidence" in w for w in answer["warnings"])
    best = answer["candidates"][0]
    assert best["mineral"] == "Forsterite"
    assert {"score", "contradictions"} <= set(best["consistency"])
    assert best["consistency"]["contradictions"] == []
    # two spectra of one method cannot be one measurement; unknown groupings are refused
    r = client.post(
        "/v1/identify",
        files=[("files", raman), ("files", held_out["Quartz"])],
        data={"group": "measurement"},
    )
    assert r.status_code == 422
    assert r.json()["detail"].startswith("group=measurement: two spectra of one method")
    r = client.post("/v1/identify", files=[("files", raman)], data={"group": "rock"})
    assert r.status_code == 422 and "group" in r.json()["detail"]


def test_identify_group_sample_joins_spectra_by_sample_id(client, held_out):
    files = [("files", held_out[m]) for m in ("Quartz", "Calcite")]
    r = client.post("/v1/identify", files=files, data={"group": "sample"})
    assert r.status_code == 200, r.text
    # two RRUFF samples: two measurements, each answered alone
    assert [a["input"] for a in r.json()["results"]] == [f[1][0] for f in files]
