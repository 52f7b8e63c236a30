"""Binary content helpers shared by adapters: data URIs, local file paths, base64."""

from __future__ import annotations

import base64
import mimetypes
from pathlib import Path

from shopfloor.llm.errors import InvalidRequestError

DEFAULT_IMAGE_MEDIA_TYPE = "image/png"


def is_local_path(url: str) -> bool:
    return url.startswith(("/", "./", "~", "../"))


def split_data_uri(url: str) -> tuple[str, str] | None:
    """(media_type, base64 payload) of a `data:` URI, else None."""
    if not url.startswith("data:") or ";base64," not in url:
        return None
    head, payload = url[5:].split(";base64,", 1)
    return head or DEFAULT_IMAGE_MEDIA_TYPE, payload


def inline_payload(
    url: str | None, data: bytes | None, media_type: str | None, provider: str
) -> tuple[str, str] | None:
    """(media_type, base64) when the content is inline (bytes, data URI or local file), else None (a URL)."""
    if data is not None:
        return media_type or DEFAULT_IMAGE_MEDIA_TYPE, base64.b64encode(data).decode()
    if url is None:
        raise InvalidRequestError("content part has neither url nor data", provider=provider)
    if (parsed := split_data_uri(url)) is not None:
        return media_type or parsed[0], parsed[1]
    if is_local_path(url):
        path = Path(url).expanduser()
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise InvalidRequestError(
                f"cannot read image file {path}: {exc.strerror}", provider=provider
            ) from exc
        guessed = mimetypes.guess_type(path.name)[0]
        return media_type or guessed or DEFAULT_IMAGE_MEDIA_TYPE, base64.b64encode(raw).decode()
    return None


def data_uri(media_type: str, payload: str) -> str:
    return f"data:{media_type};base64,{payload}"
