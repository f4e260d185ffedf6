"""Photo upload (multipart `media`): a JPEG with GPS EXIF is stored re-encoded without any
metadata and served at the request's public media_url; anything that is not a JPEG, PNG or WebP
by content (a PDF named .jpg), or is too large, is the spec's 400 and nothing is stored."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image
from starlette.testclient import TestClient

from madina.app import create_app
from madina.config import Settings
from tests.services.open311.conftest import (
    ADMIN_API,
    API,
    CATALOGUE,
    app_key,
    pothole,
    xml_of,
)

CAMERA = "Pixel-Serial-1234"
GPS = {1: "N", 2: (60.0, 10.0, 12.5), 3: "E", 4: (24.0, 55.0, 1.5)}
"""60°10'12.5"N 24°55'1.5"E: the reporter's front door."""


def photo_with_gps(fmt: str = "JPEG", size: tuple[int, int] = (64, 48)) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = CAMERA  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° to display
    exif[0x8825] = GPS  # GPSInfo
    image = Image.new("RGB", size, (200, 30, 30))
    out = BytesIO()
    image.save(out, fmt, exif=exif.tobytes())
    return out.getvalue()


def post(client: TestClient, key: str, content: bytes, name: str = "photo.jpg",
         content_type: str = "image/jpeg", fmt: str = "json", **fields: str):
    return client.post(f"{API}/requests.{fmt}", data=pothole(key, **fields),
                       files={"media": (name, content, content_type)},
                       headers={"Authorization": ""})


def stored_files(client: TestClient) -> list[Path]:
    return sorted(p for p in client.app.state.open311_media.directory.rglob("*") if p.is_file())


def listed(client: TestClient) -> int:
    return len(client.get(f"{API}/requests.json").json())


def test_a_jpeg_with_gps_is_stored_without_metadata(city: TestClient, api_key: str) -> None:
    original = photo_with_gps()
    assert CAMERA.encode() in original and b"Exif" in original
    answer = post(city, api_key, original)
    assert answer.status_code == 201, answer.text
    request_id = answer.json()[0]["service_request_id"]
    (request,) = city.get(f"{API}/requests/{request_id}.json").json()
    media_url = request["media_url"]
    assert media_url.startswith("http://testserver/open311/v2/media/")
    assert media_url.endswith(".jpg")
    served = city.get(media_url.removeprefix("http://testserver"), headers={"Authorization": ""})
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert "immutable" in served.headers["cache-control"]
    assert served.headers["x-content-type-options"] == "nosniff"
    data = served.content
    assert b"Exif" not in data and CAMERA.encode() not in data
    image = Image.open(BytesIO(data))
    assert dict(image.getexif()) == {}
    assert image.size == (48, 64), "the orientation is applied to the pixels"
    entity = city.get(f"/ngsi-ld/v1/entities/urn:ngsi-ld:Open311ServiceRequest:{request_id}",
                      params={"options": "keyValues"}).json()
    assert entity["media_url"] == media_url
    (stored,) = stored_files(city)
    assert stored.read_bytes() == data
    assert stored.name == media_url.rsplit("/", 1)[1]


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_png_and_webp_are_cleaned_too(city: TestClient, api_key: str, fmt: str) -> None:
    answer = post(city, api_key, photo_with_gps(fmt), name=f"p.{fmt.lower()}",
                  content_type="application/octet-stream")
    assert answer.status_code == 201, answer.text
    (path,) = stored_files(city)
    assert path.suffix == {"PNG": ".png", "WEBP": ".webp"}[fmt]
    assert CAMERA.encode() not in path.read_bytes()
    assert dict(Image.open(path).getexif()) == {}


@pytest.mark.parametrize(("content", "name", "description"), [
    (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n", "photo.jpg",
     "media must be a JPEG, PNG or WebP image"),
    (photo_with_gps()[:300], "photo.jpg", "media cannot be decoded as JPEG"),
    (b"GIF89a" + b"\x00" * 64, "anim.gif", "media must be a JPEG, PNG or WebP image"),
    (b"", "empty.jpg", "media must be a JPEG, PNG or WebP image"),
])
def test_what_is_not_an_image_is_refused(city: TestClient, api_key: str, content: bytes,
                                         name: str, description: str) -> None:
    for fmt in ("json", "xml"):
        answer = post(city, api_key, content, name=name, fmt=fmt)
        assert answer.status_code == 400, answer.text
        if fmt == "json":
            assert any(description in e["description"] for e in answer.json())
        else:
            assert xml_of(answer).tag == "errors"
    assert stored_files(city) == [] and listed(city) == 0


def test_both_media_and_media_url_is_refused(city: TestClient, api_key: str) -> None:
    answer = post(city, api_key, photo_with_gps(), media_url="https://img.example/1.jpg")
    assert answer.status_code == 400
    assert "not both" in answer.json()[0]["description"]
    assert stored_files(city) == []


def test_other_file_parts_are_refused(city: TestClient, api_key: str) -> None:
    answer = city.post(f"{API}/requests.json", data=pothole(api_key),
                       files={"attachment": ("a.jpg", photo_with_gps(), "image/jpeg")},
                       headers={"Authorization": ""})
    assert answer.status_code == 400
    assert "the file part 'attachment' is not accepted" in answer.json()[0]["description"]


def test_a_refused_submission_keeps_no_photo(city: TestClient, api_key: str) -> None:
    answer = post(city, api_key, photo_with_gps(), lat="60.30")
    assert answer.status_code == 400 and "outside the boundary" in answer.text
    assert stored_files(city) == []


@pytest.fixture
def small_limit(settings: Settings, tmp_path: Path) -> TestClient:
    limited = settings.model_copy(update={"open311_media_max_bytes": 2048,
                                          "open311_media_dir": str(tmp_path / "photos"),
                                          "public_url": "https://city.example"})
    headers = {"Authorization": f"Bearer {settings.admin_token}"}
    with TestClient(create_app(limited), headers=headers) as client:
        assert client.put(f"{ADMIN_API}/catalogue", json=CATALOGUE).status_code == 200
        yield client


def test_oversized_media_is_refused(small_limit: TestClient) -> None:
    key = app_key(small_limit)
    big = photo_with_gps(size=(400, 400))
    assert len(big) > 2048
    answer = post(small_limit, key, big)
    assert answer.status_code == 400
    assert "media is larger than 2048 bytes" in answer.json()[0]["description"]
    limit = small_limit.app.state.settings.max_body_bytes
    huge = post(small_limit, key, b"\xff\xd8\xff" + bytes(limit))  # past the route's limit
    assert huge.status_code == 400
    assert "exceeds" in huge.json()[0]["description"]
    assert stored_files(small_limit) == [] and listed(small_limit) == 0
    small = photo_with_gps(size=(8, 8))
    answer = post(small_limit, key, small)
    assert answer.status_code == 201, answer.text
    (request,) = small_limit.get(f"{API}/requests.json").json()
    assert request["media_url"].startswith("https://city.example/open311/v2/media/"), \
        "MADINA_PUBLIC_URL names the public address"
    assert stored_files(small_limit)[0].is_relative_to(small_limit.app.state.open311_media
                                                       .directory)


def test_names_that_are_not_ours_are_404(city: TestClient) -> None:
    for name in ("../../etc/passwd", "..%2F..%2Fmadina.db", "a" * 64 + ".jpg",
                 "x.jpg", "A" * 64 + ".jpg"):
        answer = city.get(f"{API}/media/{name}", headers={"Authorization": ""})
        assert answer.status_code == 404, name


def test_the_same_photo_twice_is_stored_once(city: TestClient, api_key: str) -> None:
    photo = photo_with_gps()
    first = post(city, api_key, photo).json()[0]["service_request_id"]
    second = post(city, api_key, photo).json()[0]["service_request_id"]
    urls = {r["media_url"] for r in city.get(
        f"{API}/requests.json", params={"service_request_id": f"{first},{second}"}).json()}
    assert len(urls) == 1 and len(stored_files(city)) == 1


def test_a_transparent_palette_png_stays_transparent(city: TestClient, api_key: str) -> None:
    """Its colour key lives in the metadata that cleaning drops: it becomes an alpha channel
    first."""
    image = Image.new("P", (4, 4), 1)
    image.putpalette([255, 255, 255, 200, 30, 30] + [0] * 762)
    image.putpixel((0, 0), 0)
    out = BytesIO()
    image.save(out, "PNG", transparency=0)
    assert post(city, api_key, out.getvalue(), name="p.png").status_code == 201
    (path,) = stored_files(city)
    stored = Image.open(path).convert("RGBA")
    assert stored.getpixel((0, 0))[3] == 0 and stored.getpixel((1, 1)) == (200, 30, 30, 255)
