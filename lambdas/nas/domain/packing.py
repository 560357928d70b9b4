"""Packed images (SPEC §4): every image of a batch in one object, each read keeping its object key,
offset and length, so one PUT serves a batch and a byte-range GET returns exactly one image."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ImageRef:
    key: str
    offset: int
    length: int

    @property
    def byte_range(self) -> str:
        """HTTP Range header value for this image (inclusive end)."""
        return f"bytes={self.offset}-{self.offset + self.length - 1}"


@dataclass(slots=True)
class ImagePack:
    key: str
    _parts: list[bytes] = field(default_factory=list)
    _size: int = 0

    def add(self, image: bytes) -> ImageRef:
        if not image:
            raise ValueError("an empty image cannot be packed")
        ref = ImageRef(self.key, self._size, len(image))
        self._parts.append(image)
        self._size += len(image)
        return ref

    @property
    def empty(self) -> bool:
        return not self._parts

    def body(self) -> bytes:
        return b"".join(self._parts)


def unpack(body: bytes, ref: ImageRef) -> bytes:
    """The image `ref` points to, from a whole pack (local mode and tests; S3 serves ranges)."""
    if ref.offset < 0 or ref.offset + ref.length > len(body):
        raise ValueError("image reference lies outside the pack")
    return body[ref.offset : ref.offset + ref.length]
