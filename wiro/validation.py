"""Check a user's inputs against the model spec before anything is sent (and paid for).

`validate_inputs` either returns the `RunRequest` to send or raises one
`InvalidInputError` that lists every problem, each naming the field by its label and
saying what to change.
"""
from __future__ import annotations

import ipaddress
import math
import os
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import unquote, urlsplit

from PIL import Image, UnidentifiedImageError

from . import spec
from .errors import InvalidInputError

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")


@dataclass(frozen=True)
class ImageUrl:
    url: str


@dataclass(frozen=True)
class ImageFile:
    path: str
    width: int = 0
    height: int = 0
    format: str = ""

    @property
    def filename(self) -> str:
        return os.path.basename(self.path)

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1_000_000

    @property
    def content_type(self) -> str:
        return Image.MIME.get(self.format.upper(), "application/octet-stream")


ImageRef = ImageUrl | ImageFile


@dataclass(frozen=True)
class RunRequest:
    """What will be sent to Run: the scalar parameters and the ordered reference images."""

    params: dict[str, Any]
    images: tuple[ImageRef, ...] = ()

    @property
    def has_files(self) -> bool:
        return any(isinstance(i, ImageFile) for i in self.images)

    @property
    def input_megapixels(self) -> float:
        return sum(i.megapixels for i in self.images if isinstance(i, ImageFile))


def _entry_text(entry: Any) -> str | None:
    """Gradio hands files over as paths, FileData dicts or objects with a .path."""
    if isinstance(entry, os.PathLike):
        return os.fspath(entry)
    if isinstance(entry, dict):
        return entry.get("path") or entry.get("url") or entry.get("name")
    if isinstance(entry, str):
        return entry
    return getattr(entry, "path", None)


# Names that only ever mean this machine, its network, or a cloud's metadata service.
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback",
                "metadata", "metadata.google.internal", "metadata.goog", "instance-data",
                "instance-data.ec2.internal", "metadata.azure.com", "kubernetes",
                "kubernetes.default", "kubernetes.default.svc", "host.docker.internal",
                "gateway.docker.internal"}
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa",
                   ".lan", ".intranet", ".corp", ".svc", ".cluster.local")
# Wildcard DNS services: the name carries an address (10.0.0.1.nip.io, 127-0-0-1.sslip.io,
# 7f000001.nip.io), or every name points at loopback (lvh.me, localtest.me).
_WILDCARD_DNS = (".nip.io", ".sslip.io", ".xip.io", ".nip.direct", ".traefik.me",
                 ".backname.io", ".ip.addr.tools", ".localip.me", ".1u.ms")
_LOOPBACK_DNS = ("lvh.me", "localtest.me", "vcap.me", "lacolhost.com", "yoogle.com",
                 "fuf.me", "127.0.0.1.nip.io", "readme.localtest.me", "localho.st")
_EMBEDDED = re.compile(r"(?<![0-9])(\d{1,3})[.-](\d{1,3})[.-](\d{1,3})[.-](\d{1,3})(?![0-9])")
_HEX_LABEL = re.compile(r"(?:^|[.-])([0-9a-f]{8})(?=$|[.-])")


def parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address `host` means to inet_aton (and so to most URL fetchers), else None.

    Besides a.b.c.d, inet_aton takes 1 to 4 parts, each decimal, 0x-hex or 0-octal, the
    last filling the remaining bytes: 2130706433, 0x7f000001, 0177.0.0.1 and 127.1 are all
    127.0.0.1."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = []
    for part in parts:
        try:
            if re.fullmatch(r"0[xX][0-9a-fA-F]*", part):
                numbers.append(int(part[2:] or "0", 16))
            elif re.fullmatch(r"0[0-7]*", part):
                numbers.append(int(part, 8))
            elif re.fullmatch(r"[1-9][0-9]*", part):
                numbers.append(int(part, 10))
            else:
                return None
        except ValueError:
            return None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = 0
    for n in head:
        value = value * 256 + n
    value = value * 256 ** (4 - len(head)) + last
    return ipaddress.IPv4Address(value)


def _not_public(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = addr.ipv4_mapped or addr.sixtofour or (addr.teredo or (None, None))[1]
        if embedded is not None and _not_public(embedded):
            return True
        if addr in ipaddress.IPv6Network("64:ff9b::/96"):  # NAT64 of an IPv4 address
            return _not_public(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
    return (not addr.is_global or addr.is_loopback or addr.is_private or addr.is_link_local
            or addr.is_unspecified or addr.is_multicast or addr.is_reserved)


def normalise_host(host: str) -> str:
    """A URL's host as a resolver sees it: percent-decoded, NFKC (fullwidth digits are
    digits), lower case, without brackets or the trailing dot of a fully qualified name."""
    host = unicodedata.normalize("NFKC", unquote(host)).strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.rstrip(".")


def _private_host(host: str) -> bool:
    """True for loopback, private, link-local, unspecified and metadata hosts, in every
    spelling a fetcher would accept."""
    host = normalise_host(host)
    if not host or host in _LOCAL_NAMES or host.endswith(_LOCAL_SUFFIXES):
        return True
    if any(c.isspace() or c in "\\/@%" for c in host):
        return True  # no real host has these; a fetcher might read them differently
    try:
        return _not_public(ipaddress.ip_address(host.split("%")[0]))
    except ValueError:
        pass
    ipv4 = parse_ipv4(host)
    if ipv4 is not None:
        return _not_public(ipv4)
    if host in _LOOPBACK_DNS or host.endswith(tuple("." + d for d in _LOOPBACK_DNS)):
        return True
    # An address written into a name (a.b.c.d or a-b-c-d) is refused if it is private,
    # whatever the domain; a wildcard DNS name is refused unless it carries a public one.
    embedded = [ipaddress.IPv4Address(".".join(m)) for m in _EMBEDDED.findall(host)
                if all(int(x) <= 255 for x in m)]
    if any(_not_public(a) for a in embedded):
        return True
    if host.endswith(_WILDCARD_DNS) or host in {d.lstrip(".") for d in _WILDCARD_DNS}:
        hexed = [ipaddress.IPv4Address(int(h, 16)) for h in _HEX_LABEL.findall(host)]
        if any(_not_public(a) for a in hexed) or not (embedded or hexed):
            return True
    return False


def _check_url(label: str, url: str, allow_private_urls: bool) -> list[str]:
    parts = urlsplit(url)
    try:
        hostname = parts.hostname
        parts.port  # noqa: B018 — raises for a port that is not a number
    except ValueError:
        hostname = None
    if parts.scheme.lower() not in {"http", "https"} or not hostname:
        return [f"{label}: {url[:80]!r} is not a web address; use an http(s) URL or upload "
                "the image."]
    if not allow_private_urls and ("\\" in url or "@" in parts.netloc
                                   or _private_host(hostname)):
        return [f"{label}: {normalise_host(hostname)[:80]} is a local or private address "
                "that Wiro cannot reach; use a public http(s) URL or upload the image."]
    return []


def _check_file(label: str, path: str) -> tuple[ImageFile | None, list[str]]:
    """The file by its header (type, pixel count): wiro.uploads decodes it, bounded, once the
    run is admitted."""
    name = os.path.basename(path) or path
    if not os.path.isfile(path):
        return None, [f"{label} ({name}) could not be read; upload it again."]
    try:
        with Image.open(path) as im:
            width, height, fmt = im.width, im.height, im.format or ""
            if width * height > spec.MAX_UPLOAD_PIXELS:
                return None, [
                    f"{label} ({name}) is {width}×{height} = {width * height / 1e6:.0f} MP; the "
                    f"largest accepted is {spec.MAX_UPLOAD_PIXELS / 1e6:.0f} MP. Use a smaller "
                    "image."]
    except Image.DecompressionBombError:
        return None, [f"{label} ({name}) has too many pixels to be a real photo; use a "
                      "smaller image."]
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        kind = "is damaged or cut short" if isinstance(exc, (OSError, SyntaxError)) and not \
            isinstance(exc, UnidentifiedImageError) else "is not an image"
        return None, [f"{label} ({name}) {kind}; upload a PNG, JPEG or WebP image."]
    return ImageFile(path=path, width=width, height=height, format=fmt), []


def _check_images(entries: Any, allow_private_urls: bool) -> tuple[list[ImageRef], list[str]]:
    field = spec.INPUT_IMAGE
    if entries is not None and not isinstance(entries, (list, tuple)):
        entries = [entries]  # one image given on its own (a str would split into letters)
    entries = [e for e in (entries or []) if e not in (None, "")]
    problems: list[str] = []
    if len(entries) > field.max_items:
        problems.append(f"{field.label} has {len(entries)} images; {spec.MODEL_TITLE} takes at "
                        f"most {field.max_items}. Remove {len(entries) - field.max_items}.")
    images: list[ImageRef] = []
    for number, entry in enumerate(entries, start=1):
        label = f"{field.label} {number}"
        if isinstance(entry, (ImageUrl, ImageFile)):
            entry = entry.url if isinstance(entry, ImageUrl) else entry.path
        text = _entry_text(entry)
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{label} is not an image or a URL; remove it and add it again.")
            continue
        text = text.strip()
        scheme = _SCHEME.match(text)
        if scheme and len(scheme.group(1)) > 1:  # one letter is a Windows drive, not a scheme
            found = _check_url(label, text, allow_private_urls)
            problems += found
            if not found:
                images.append(ImageUrl(text))
        else:
            image, found = _check_file(label, text)
            problems += found
            if image:
                images.append(image)
    return images, problems


def _as_integer(field: spec.ModelInput, raw: Any) -> tuple[int | None, str | None]:
    label = field.label
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, f"{label} is empty; enter a whole number ({_range_text(field)})."
    if isinstance(raw, bool):
        return None, f"{label} must be a whole number, not {raw!r}."
    if isinstance(raw, str):
        try:
            raw = float(raw.strip())
        except ValueError:
            return None, f"{label} must be a whole number ({_range_text(field)}), not {raw!r}."
    if not isinstance(raw, (int, float)):
        return None, f"{label} must be a whole number ({_range_text(field)})."
    if isinstance(raw, float) and not math.isfinite(raw):
        return None, f"{label} must be a finite whole number ({_range_text(field)}), not {raw}."
    if raw != int(raw):
        step = field.step if field.step and field.step > 1 else 1
        low = max(field.minimum, math.floor(raw / step) * step)
        high = min(field.maximum, low + step)
        what = f"a whole number and a multiple of {step}" if step > 1 else "a whole number"
        return None, f"{label} must be {what}, e.g. {low} or {high} (got {raw:g})."
    return int(raw), None


def _range_text(field: spec.ModelInput) -> str:
    text = f"{field.minimum} to {field.maximum}"
    if field.step and field.step > 1:
        text += f", a multiple of {field.step}"
    if field.zero_means_match_input:
        text += ", or 0 to match the input image"
    return text


def _check_number(field: spec.ModelInput, raw: Any) -> tuple[int | None, list[str]]:
    value, problem = _as_integer(field, raw)
    if problem:
        return None, [problem]
    if value == 0 and field.zero_means_match_input:
        return 0, []
    if not field.minimum <= value <= field.maximum:
        zero = " (or 0 to match the input image)" if field.zero_means_match_input else ""
        return None, [f"{field.label} must be between {field.minimum} and {field.maximum}"
                      f"{zero}; {value} is out of range."]
    if field.step and field.step > 1 and value % field.step:
        below = max(field.minimum, value - value % field.step)
        above = min(field.maximum, below + field.step)
        return None, [f"{field.label} must be a multiple of {field.step}, e.g. {below} or "
                      f"{above} (got {value})."]
    return value, []


def _check_select(field: spec.ModelInput, raw: Any) -> tuple[str | None, list[str]]:
    choices = " or ".join(o.label for o in field.options)
    if isinstance(raw, str):
        word = raw.strip().lower()
        for option in field.options:
            if word in (option.value.lower(), option.label.lower(), *option.aliases):
                return option.value, []
    shown = raw if isinstance(raw, str) else type(raw).__name__
    return None, [f"{field.label} must be {choices} (got {shown!r})."]


def _check_text(field: spec.ModelInput, raw: Any) -> tuple[str | None, list[str]]:
    if raw is None:
        raw = ""
    if not isinstance(raw, str):  # 123 or ["a"] is not a prompt, and is never billed as one
        return None, [f"{field.label} must be text, not {type(raw).__name__}."]
    if field.required and not raw.strip():
        return None, [f"{field.label} is empty; {field.empty_hint or 'fill it in.'}"]
    if len(raw) > spec.MAX_PROMPT_CHARS:
        return None, [f"{field.label} is {len(raw):,} characters; shorten it to at most "
                      f"{spec.MAX_PROMPT_CHARS:,}."]
    return raw.strip(), []


_CHECKS = {"number": _check_number, "select": _check_select, "textarea": _check_text,
           "text": _check_text}


def validate_inputs(values: Mapping[str, Any], *,
                    allow_private_urls: bool = True) -> RunRequest:
    """Return the request to send, or raise InvalidInputError listing every problem.

    Every input of `spec.INPUTS` is checked by its kind; a missing one takes its default
    (a missing inputImage means none). Image files are judged by their headers (type,
    pixel count); wiro.uploads.prepare decodes them once the run is admitted.
    `allow_private_urls=False` (live mode) refuses loopback and private-network URLs.
    """
    problems: list[str] = []
    params: dict[str, Any] = {}
    images: list[ImageRef] = []
    has_images = False
    for field in spec.INPUTS:
        if field.kind == "combinefileinput":
            images, found = _check_images(values.get(field.name), allow_private_urls)
            # An image that failed its own check is reported; don't also call it missing.
            has_images = bool(images or found)
        else:
            params[field.name], found = _CHECKS[field.kind](
                field, values.get(field.name, field.default))
        problems += found
    for field in spec.INPUTS:
        if field.zero_means_match_input and params.get(field.name) == 0 and not has_images:
            problems.append(f"{field.label} is 0 (match the input image) but there is no input "
                            f"image; add a reference image or set {field.label} between "
                            f"{field.minimum} and {field.maximum}.")
    if problems:
        raise InvalidInputError(problems)
    return RunRequest(params=params, images=tuple(images))
