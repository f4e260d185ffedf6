"""Photos attached to service requests (multipart `media`): checked, cleaned, stored, served.

- Type by content, never by name or declared type: the first bytes must be JPEG, PNG or WebP,
  and Pillow must then decode the whole image as that format (a PDF renamed .jpg is refused).
- Size: the upload is refused above the configured maximum, and images above MAX_PIXELS are
  refused before decoding (a small file can unpack into gigabytes).
- Metadata: the pixels are decoded and encoded again into a new file that carries nothing else
  — no EXIF (GPS position, camera serial, time), no XMP, no text chunks, no ICC profile. The
  EXIF orientation is applied to the pixels first, so the photo still stands the right way up.
- Storage: content-addressed (`<sha256>.<ext>`, in a folder per first two hex digits) in the
  media directory; names are never the client's, so no path can be chosen from outside, and
  the same photo twice is stored once. Files are written whole and renamed into place.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageOps

from madina.services.open311.errors import bad_request

FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"),
           "WEBP": ("webp", "image/webp")}
MEDIA_TYPES = {extension: media_type for extension, media_type in FORMATS.values()}
NAME = re.compile(r"^[0-9a-f]{64}\.(jpg|png|webp)$")
MAX_PIXELS = 40_000_000
"""40 megapixels: any phone camera's photo, not a decompression bomb."""
QUALITY = 85


@dataclass(frozen=True)
class Photo:
    name: str
    """`<sha256 of the cleaned file>.<ext>`"""
    data: bytes


def sniff(data: bytes) -> str | None:
    """The image format the content starts as (Pillow's name), or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def clean(data: bytes, max_bytes: int) -> Photo:
    """The upload as a stored photo: checked, decoded, re-encoded without metadata; the spec's
    400 for anything else."""
    if len(data) > max_bytes:
        raise bad_request(f"media is larger than {_size(max_bytes)}")
    kind = sniff(data)
    if kind is None:
        raise bad_request("media must be a JPEG, PNG or WebP image (judged by its content)")
    try:
        with Image.open(BytesIO(data), formats=[kind]) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise bad_request(f"media has {width}×{height} pixels; at most "
                                  f"{MAX_PIXELS // 1_000_000} megapixels are accepted")
            image.load()
            upright = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise bad_request(f"media cannot be decoded as {kind}") from None
    return _encoded(upright, kind)


def _encoded(image: Image.Image, kind: str) -> Photo:
    modes = {"JPEG": ("RGB", "L"), "PNG": ("1", "L", "LA", "P", "RGB", "RGBA"),
             "WEBP": ("RGB", "RGBA")}
    keyed = "transparency" in image.info  # a colour key lives in `info`, which is dropped
    if image.mode not in modes[kind] or (keyed and kind != "JPEG"):
        has_alpha = "A" in image.mode or keyed
        image = image.convert("RGBA" if has_alpha and kind != "JPEG" else "RGB")
    image.info = {}  # nothing of the original file may reach the new one
    out = BytesIO()
    options = {"quality": QUALITY} if kind in ("JPEG", "WEBP") else {"optimize": True}
    image.save(out, format=kind, **options)
    data = out.getvalue()
    extension = FORMATS[kind][0]
    return Photo(f"{hashlib.sha256(data).hexdigest()}.{extension}", data)


def _size(count: int) -> str:
    return f"{count / 1_000_000:g} MB" if count >= 1_000_000 else f"{count} bytes"


class MediaStore:
    """The media directory (created on first use)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, name: str) -> Path | None:
        """Where the photo `name` is, if `name` is one of ours; None for any other text."""
        if not NAME.match(name):
            return None
        return self.directory / name[:2] / name

    def put(self, photo: Photo) -> bool:
        """Store the photo; False when it was stored already (the same picture twice)."""
        path = self.path(photo.name)
        assert path is not None
        if path.exists():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(photo.data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return True

    def remove(self, name: str) -> None:
        path = self.path(name)
        if path is not None:
            path.unlink(missing_ok=True)
