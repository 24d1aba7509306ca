"""`sslbench download DATASET`: the standard files from their usual URLs, without torchvision.

Each file goes to FILE.part first and resumes from there (an HTTP Range request) when a download was cut; it
replaces nothing until its md5 matches, so a partial or corrupt download never takes a good file's place.
CIFAR-10's archive is unpacked member by member, each member written atomically and checked against the
md5 sslbench.core.datasets expects. `--mirror URL` (or $SSLBENCH_MIRROR) fetches every file by its name
from another server: a lab mirror, or a local one in the tests.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

from sslbench.core import atomic
from sslbench.core.datasets import SPECS
from sslbench.core.errors import ConfigError, suggest

CHUNK = 1 << 16


@dataclass(frozen=True)
class Source:
    """One file to fetch: where from (first URL that answers wins), where to, its md5, and whether it is an
    archive to unpack into the data directory."""

    urls: tuple[str, ...]
    dest: str
    md5: str
    unpack: bool = False


_MNIST = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
_FASHION = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)


def _idx(bases: tuple[str, ...], folder: str) -> tuple[Source, ...]:
    return tuple(Source(tuple(b + Path(rel).name for b in bases), rel, md5)
                 for rel, md5 in SPECS["mnist" if folder == "MNIST" else "fashion-mnist"].files.items())


SOURCES: dict[str, tuple[Source, ...]] = {
    "mnist": _idx(_MNIST, "MNIST"),
    "fashion-mnist": _idx(_FASHION, "FashionMNIST"),
    "cifar10": (Source(("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",), "cifar-10-python.tar.gz",
                       "c58f30108f718f92721af3b95e74349a", unpack=True),),
}


def sources_for(name: str, mirror: str = "") -> tuple[Source, ...]:
    """The files of a dataset, fetched from `mirror` (by file name) when one is given."""
    if name not in SOURCES:
        known = ", ".join(SOURCES)
        why = "it ships with scikit-learn; nothing to download" if name == "digits" else (
            "an image folder is yours already" if name == "folder" else f"no known URL{suggest(name, SOURCES)}")
        raise ConfigError(f"cannot download {name!r}: {why} (downloadable: {known})")
    if not mirror:
        return SOURCES[name]
    base = mirror.rstrip("/") + "/"
    return tuple(Source((base + Path(s.dest).name,), s.dest, s.md5, s.unpack) for s in SOURCES[name])


def md5_of(path: Path) -> str:
    """md5 of a file, read in chunks."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def download(name: str, root: Path, mirror: str = "", console: Console | None = None, timeout: float = 30.0) -> None:
    """Fetch dataset `name` into root in torchvision's layout; files already there with the right md5 stay."""
    srcs = sources_for(name, mirror or os.environ.get("SSLBENCH_MIRROR", ""))
    root.mkdir(parents=True, exist_ok=True)
    console = console or Console(stderr=True)
    expected = SPECS[name].files
    if all((root / rel).is_file() and md5_of(root / rel) == md5 for rel, md5 in expected.items()):
        console.print(f"{name}: already in {root}, checksums match")
        return
    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeRemainingColumn(), console=console, disable=not console.is_terminal) as bar:
        for src in srcs:
            path = root / src.dest
            if not (path.is_file() and md5_of(path) == src.md5):
                _fetch(src, path, bar, timeout)
            if src.unpack:
                _unpack(path, root, expected)
                path.unlink()


def _fetch(src: Source, path: Path, bar: Progress, timeout: float) -> None:
    """Download src to path via path.part, resuming a previous partial; raise ConfigError on any failure."""
    part = path.with_name(path.name + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in src.urls:
        try:
            _get(url, part, bar, timeout)
            break
        except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
            errors.append(_why(url, e))
    else:
        raise ConfigError(f"cannot download {path.name}: {'; '.join(errors)}")
    digest = md5_of(part)
    if digest != src.md5:
        part.unlink()  # a resumed file that is wrong would stay wrong: start over next time
        raise ConfigError(f"{path.name}: checksum {digest} does not match the expected {src.md5} "
                          "(the server sent a different file; nothing was replaced)")
    os.replace(part, path)


def _get(url: str, part: Path, bar: Progress, timeout: float) -> None:
    """Append url's bytes to part, asking only for what part lacks."""
    have = part.stat().st_size if part.is_file() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "sslbench", **({"Range": f"bytes={have}-"} if have else {})})
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code != 416 or not have:  # 416: nothing left to send, the part is whole
            raise
        return
    with resp:
        if have and resp.status != 206:  # the server ignored the range: start over
            have = 0
        total = resp.headers.get("Content-Length")
        task = bar.add_task(Path(urlsplit(url).path).name, total=(int(total) + have) if total else None,
                            completed=have)
        got = 0
        with open(part, "ab" if have else "wb") as f:
            while chunk := resp.read(CHUNK):
                f.write(chunk)
                got += len(chunk)
                bar.advance(task, len(chunk))
        if total and got < int(total):
            raise http.client.IncompleteRead(b"", int(total) - got)


def _why(url: str, e: BaseException) -> str:
    """A short reason naming the host, with a hint when the machine looks offline."""
    host = urlsplit(url).hostname or url
    if isinstance(e, urllib.error.HTTPError):
        return f"{host} answered HTTP {e.code}"
    reason = getattr(e, "reason", e)
    if isinstance(reason, (socket.gaierror, ConnectionRefusedError, socket.timeout, TimeoutError)):
        return f"cannot reach {host} ({reason}; offline? copy the files by hand or use --mirror)"
    if isinstance(e, http.client.IncompleteRead):
        return f"{host} closed the connection early (the part is kept; run the same command to resume)"
    return f"{host}: {reason}"


def _unpack(archive: Path, root: Path, expected: dict[str, str]) -> None:
    """Write each expected member of a tar archive atomically, checking its md5 first."""
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            rel = member.name.lstrip("./")
            if rel not in expected and not rel.endswith(("batches.meta", "readme.html")):
                continue
            if not member.isfile():
                continue
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            if rel in expected and hashlib.md5(data).hexdigest() != expected[rel]:
                raise ConfigError(f"{archive.name}: member {rel} has the wrong checksum; nothing was replaced")
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            atomic.write_bytes(root / rel, data)
