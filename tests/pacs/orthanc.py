"""A real Orthanc PACS for the tests, started from the documented configuration (docs/pacs/orthanc.json) on free
loopback ports, and a TCP proxy in front of it that terminates TLS or cuts an image retrieval off half-way.

TLS is served by the proxy, not by Orthanc: Debian's Orthanc 1.10.1 (civetweb 1.15, OpenSSL 3) with ``SslEnabled``
died on the first HTTPS request here (curl and requests alike, RSA and EC certificates)."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import requests

from tests.bundles.conftest import REPO

ORTHANC = shutil.which("Orthanc")
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
MISSING = None if ORTHANC and DICOMWEB_PLUGIN.exists() else (
    "Orthanc with its DICOMweb plugin is not installed (apt-get install orthanc orthanc-dicomweb)")
USER, PASSWORD = "msmonai", "pacs-test-password-9d2f"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Orthanc:
    """One Orthanc process with the DICOMweb plugin; ``url`` is its DICOMweb root, ``rest`` its REST API, ``dimse``
    its DIMSE service as HOST:PORT:AET."""

    def __init__(self, folder: Path) -> None:
        config = json.loads((REPO / "docs" / "pacs" / "orthanc.json").read_text())
        self.port, self.dicom_port = free_port(), free_port()
        config.update({"HttpPort": self.port, "DicomPort": self.dicom_port, "StorageDirectory": str(folder / "storage"),
                       "IndexDirectory": str(folder / "storage"), "RegisteredUsers": {USER: PASSWORD}})
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "orthanc.json").write_text(json.dumps(config))
        self.rest = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.rest}/dicom-web"
        self.dimse = f"127.0.0.1:{self.dicom_port}:{config['DicomAet']}"
        self.log = open(folder / "orthanc.log", "wb")
        self.process = subprocess.Popen([ORTHANC, str(folder / "orthanc.json")], stdout=self.log,
                                        stderr=subprocess.STDOUT)
        self.session = requests.Session()
        self.session.auth = (USER, PASSWORD)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.session.get(f"{self.rest}/system", timeout=2).raise_for_status()
                return
            except requests.RequestException:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"Orthanc did not start: {(folder / 'orthanc.log').read_text()[-2000:]}")
                time.sleep(0.2)

    def upload(self, folder: Path) -> int:
        """Upload every file under ``folder`` through the REST API; returns how many."""
        files = [f for f in sorted(folder.rglob("*")) if f.is_file()]
        for path in files:
            self.session.post(f"{self.rest}/instances", data=path.read_bytes()).raise_for_status()
        return len(files)

    def find(self, level: str, **query) -> list[dict]:
        """``/tools/find`` with expanded answers (MainDicomTags, parents)."""
        answer = self.session.post(f"{self.rest}/tools/find", json={"Level": level, "Query": query, "Expand": True})
        answer.raise_for_status()
        return answer.json()

    def sr_series(self, patient_id: str) -> list[dict]:
        """The SR series stored under the patient, each with its study's ``StudyDate`` added."""
        found = []
        for study in self.find("Study", PatientID=patient_id):
            for series in self.find("Series", StudyInstanceUID=study["MainDicomTags"]["StudyInstanceUID"],
                                    Modality="SR"):
                found.append({**series, "StudyDate": study["MainDicomTags"].get("StudyDate")})
        return found

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


class Proxy:
    """Forwards TCP to ``port``. With ``cut_after``: once a request for the images of a series (WADO-RS, not its
    metadata) passed through a connection, that connection is closed after ``cut_after`` more bytes of the answer.
    With ``tls_certificate`` (certificate + key PEM): terminates TLS, as a reverse proxy in front of a PACS does."""

    def __init__(self, port: int, cut_after: int | None = None, tls_certificate: Path | None = None) -> None:
        self.port, self.cut_after = port, cut_after
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.tls = None
        if tls_certificate is not None:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(tls_certificate)
        scheme = "https" if self.tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.listener.getsockname()[1]}/dicom-web"
        self.cuts = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.tls is not None:
                try:
                    client = self.tls.wrap_socket(client, server_side=True)
                except (ssl.SSLError, OSError):  # the client refused the certificate
                    client.close()
                    continue
            server = socket.create_connection(("127.0.0.1", self.port))
            state = {"retrieving": False}
            threading.Thread(target=self._requests, args=(client, server, state), daemon=True).start()
            threading.Thread(target=self._answers, args=(server, client, state), daemon=True).start()

    def _requests(self, client: socket.socket, server: socket.socket, state: dict) -> None:
        while data := _receive(client):
            line = data.split(b"\r\n", 1)[0]
            if line.startswith(b"GET ") and b"/series/" in line and b"/metadata" not in line:
                state["retrieving"] = True
            server.sendall(data)

    def _answers(self, server: socket.socket, client: socket.socket, state: dict) -> None:
        sent = 0
        while data := _receive(server):
            cutting = state["retrieving"] and self.cut_after is not None
            if cutting:
                data = data[:self.cut_after - sent]
                sent += len(data)
            client.sendall(data)
            if cutting and sent >= self.cut_after:
                self.cuts += 1
                break
        for end in (client, server):
            try:
                end.shutdown(socket.SHUT_RDWR)  # wakes the other thread's recv and tells the client at once
            except OSError:
                pass
            end.close()

    def close(self) -> None:
        self.listener.close()


def _receive(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key: (PEM of certificate + key for the server, PEM of the
    certificate alone: the CA bundle a client trusts)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "msmonai test PACS")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    public = certificate.public_bytes(serialization.Encoding.PEM)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    (folder / "server.pem").write_bytes(public + private)
    (folder / "ca.pem").write_bytes(public)
    return folder / "server.pem", folder / "ca.pem"
