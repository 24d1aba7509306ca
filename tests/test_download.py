"""`sslbench download` against a real local HTTP server: checksums, resuming, offline, bad servers."""

from __future__ import annotations

import hashlib
import socket
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import sslbench
from sslbench import download
from sslbench.core.datasets import SPECS


class Server:
    """Serves `files` (name -> bytes) with Range support; `cut` names files sent only half-way, `log` keeps
    (name, Range header) of every request."""

    def __init__(self, files: dict[str, bytes]):
        self.files, self.cut, self.log = files, set(), []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a): pass

            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                rng = self.headers.get("Range")
                outer.log.append((name, rng))
                if name not in outer.files:
                    self.send_error(404)
                    return
                data = outer.files[name]
                start = int(rng.split("=")[1].rstrip("-")) if rng else 0
                self.send_response(206 if rng else 200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                self.wfile.write(body[: len(body) // 2] if name in outer.cut else body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/"

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def mnist_server(shared_data: Path):
    files = {Path(rel).name: (shared_data / rel).read_bytes() for rel in SPECS["mnist"].files}
    srv = Server(files)
    yield srv
    srv.close()


def md5s(root: Path, name: str) -> dict[str, str]:
    return {rel: hashlib.md5((root / rel).read_bytes()).hexdigest() for rel in SPECS[name].files if (root / rel).is_file()}


def test_download_fetches_checks_and_skips(mnist_server: Server, tmp_path: Path):
    r = sslbench("download", "mnist", "--data-dir", str(tmp_path), "--mirror", mnist_server.url)
    assert r.returncode == 0, r.stderr
    assert md5s(tmp_path, "mnist") == SPECS["mnist"].files
    assert not list(tmp_path.rglob("*.part"))
    n = len(mnist_server.log)
    r = sslbench("download", "mnist", "--data-dir", str(tmp_path), "--mirror", mnist_server.url)
    assert r.returncode == 0 and "already" in r.stderr and len(mnist_server.log) == n  # nothing fetched again


def test_cut_download_keeps_part_and_resumes(mnist_server: Server, tmp_path: Path):
    big = "train-images-idx3-ubyte.gz"
    mnist_server.cut.add(big)
    r = sslbench("download", "mnist", "--data-dir", str(tmp_path), "--mirror", mnist_server.url)
    assert r.returncode == 2 and r.stderr.startswith("error:") and len(r.stderr.strip().splitlines()) == 1
    assert "resume" in r.stderr and "Traceback" not in r.stderr
    dest = tmp_path / "MNIST/raw" / big
    part = dest.with_name(big + ".part")
    assert not dest.exists() and 0 < part.stat().st_size < len(mnist_server.files[big])
    mnist_server.cut.clear()
    r = sslbench("download", "mnist", "--data-dir", str(tmp_path), "--mirror", mnist_server.url)
    assert r.returncode == 0, r.stderr
    ranges = [rng for name, rng in mnist_server.log if name == big and rng]
    assert ranges and ranges[-1] == f"bytes={len(mnist_server.files[big]) // 2}-"  # asked only for the rest
    assert md5s(tmp_path, "mnist") == SPECS["mnist"].files and not part.exists()


def test_wrong_bytes_replace_nothing(mnist_server: Server, tmp_path: Path):
    name = "t10k-labels-idx1-ubyte.gz"
    good = mnist_server.files[name]
    mnist_server.files[name] = good[:-10] + b"x" * 10
    r = sslbench("download", "mnist", "--data-dir", str(tmp_path), "--mirror", mnist_server.url)
    assert r.returncode == 2 and "checksum" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "MNIST/raw" / name).exists() and not list(tmp_path.rglob("*.part"))


def test_offline_is_one_line(tmp_path: Path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = sslbench("download", "fashion-mnist", "--data-dir", str(tmp_path), "--mirror", f"http://127.0.0.1:{port}/")
    assert r.returncode == 2 and r.stderr.startswith("error:") and len(r.stderr.strip().splitlines()) == 1
    assert "cannot reach 127.0.0.1" in r.stderr and "offline" in r.stderr
    assert not list(tmp_path.rglob("*.gz"))


@pytest.mark.parametrize("name, words", [("digits", "scikit-learn"), ("cifar100", "no known URL"),
                                         ("folder", "image folder")])
def test_nothing_to_download(name: str, words: str, tmp_path: Path):
    r = sslbench("download", name, "--data-dir", str(tmp_path))
    assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_cifar_archive_is_unpacked_and_checked(shared_data: Path, tmp_path: Path, monkeypatch):
    archive = tmp_path / "src" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w") as tar:  # uncompressed: the same reader opens both
        for rel in SPECS["cifar10"].files:
            tar.add(shared_data / rel, arcname=rel)
    srv = Server({archive.name: archive.read_bytes()})
    try:
        monkeypatch.setitem(download.SOURCES, "cifar10", (download.Source(
            ("unused",), archive.name, download.md5_of(archive), unpack=True),))
        out = tmp_path / "data"
        download.download("cifar10", out, mirror=srv.url)
    finally:
        srv.close()
    assert md5s(out, "cifar10") == SPECS["cifar10"].files
    assert not (out / archive.name).exists()  # the archive goes once unpacked
