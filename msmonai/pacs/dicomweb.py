"""A PACS reached over DICOMweb (QIDO-RS, WADO-RS, STOW-RS through ``dicomweb-client``), every failure one line.

The password is read from a file and handed to the HTTP session only: it is never part of a URL, a log line or
an error message. TLS is verified against ``ca_bundle`` when given, else against the system's certificates.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pydicom
import requests
from dicomweb_client import DICOMwebClient

from msmonai.errors import UserError
from msmonai.pacs.archive import TIMEOUT_S, SeriesRef, check_patient_id

logger = logging.getLogger(__name__)


class DicomWebArchive:
    """:class:`msmonai.pacs.archive.Archive` over DICOMweb."""

    def __init__(self, url: str, username: str | None = None, password_file: str | os.PathLike | None = None,
                 ca_bundle: str | os.PathLike | None = None, timeout: float = TIMEOUT_S) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UserError(f"--url {url}: not an http(s) URL of a DICOMweb service (e.g. http://pacs:8042/dicom-web)")
        if parts.username or parts.password:
            raise UserError("--url: credentials in the URL are refused (they would show in process lists and logs); "
                            "give --username and --password-file")
        self.where = url.rstrip("/")
        if ca_bundle is not None and not Path(ca_bundle).is_file():
            raise UserError(f"--ca-bundle {ca_bundle}: no such file")
        session = _Session(ca_bundle)
        session.auth = _credentials(username, password_file)
        if session.auth and parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
            logger.warning("warning: --url is plain http: the password crosses the network unencrypted (use https)")
        self._client = DICOMwebClient(self.where, session=session, timeout=timeout)

    def mr_series(self, patient_id: str) -> list[SeriesRef]:
        """Every MR series of the patient whose PatientID is exactly ``patient_id``, oldest study first."""
        check_patient_id(patient_id)
        with self._answer("the patient's studies"):
            studies = [s for s in self._client.search_for_studies(search_filters={"PatientID": patient_id})
                       if _value(s, "00100020") == patient_id]
        refs = []
        for study in sorted(studies, key=lambda s: (_value(s, "00080020"), _value(s, "0020000D"))):
            with self._answer("the series of a study"):
                found = self._client.search_for_series(_value(study, "0020000D"), search_filters={"Modality": "MR"})
            refs += [SeriesRef(_value(study, "0020000D"), _value(series, "0020000E"), _value(study, "00080020"))
                     for series in found if _value(series, "00080060") == "MR"]
        return refs

    def headers(self, series: SeriesRef) -> list[pydicom.Dataset]:
        """The series' instances as header-only datasets (WADO-RS metadata; bulk data such as pixels left out)."""
        with self._answer("the headers of a series"):
            metadata = self._client.retrieve_series_metadata(series.study_uid, series.series_uid)
        return [pydicom.Dataset.from_json({tag: element for tag, element in instance.items()
                                           if "BulkDataURI" not in element and "InlineBinary" not in element})
                for instance in metadata]

    def instances(self, series: SeriesRef) -> Iterator[pydicom.Dataset]:
        """The series' instances with their pixel data, streamed one at a time (WADO-RS)."""
        with self._answer("the images of a series"):
            yield from self._client.iter_series(series.study_uid, series.series_uid)

    def store(self, dataset: pydicom.Dataset) -> None:
        """Store ``dataset`` (STOW-RS); raises :class:`UserError` unless the archive accepted it."""
        with self._answer("the report's storage"):
            response = self._client.store_instances([dataset])
        if response is not None and response.get("FailedSOPSequence"):
            reason = response.FailedSOPSequence[0].get("FailureReason", "?")
            raise UserError(f"{self.where}: the PACS refused to store the report (failure reason {reason})")

    def has_series(self, study_uid: str, series_uid: str) -> bool:
        """Whether the archive lists the series (QIDO-RS)."""
        with self._answer("the stored report"):
            return bool(self._client.search_for_series(study_uid, search_filters={"SeriesInstanceUID": series_uid}))

    @contextlib.contextmanager
    def _answer(self, what: str) -> Iterator[None]:
        """Turn the HTTP layer's failures while asking for ``what`` into one line naming the PACS and the cause."""
        try:
            yield
        except requests.exceptions.SSLError as err:
            raise UserError(f"{self.where}: TLS certificate not verified ({_reason(err)}); give the PACS's CA "
                            "certificate with --ca-bundle") from None
        except requests.exceptions.HTTPError as err:
            status = err.response.status_code if err.response is not None else "?"
            if status in (401, 403):
                raise UserError(f"{self.where}: the PACS refused the credentials (HTTP {status}) while asking for "
                                f"{what}; check --username and --password-file") from None
            raise UserError(f"{self.where}: the PACS answered HTTP {status} while asking for {what}") from None
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ReadTimeout) as err:
            raise UserError(f"{self.where}: the transfer of {what} was cut off ({_reason(err)})") from None
        except requests.exceptions.RequestException as err:
            raise UserError(f"{self.where}: PACS not reachable ({_reason(err)})") from None


class _Session(requests.Session):
    """A session whose ``ca_bundle`` wins over $REQUESTS_CA_BUNDLE / $CURL_CA_BUNDLE: requests lets those override a
    session's ``verify`` (psf/requests#4726), which silently ignored --ca-bundle on this machine, where they are set."""

    def __init__(self, ca_bundle: str | os.PathLike | None) -> None:
        super().__init__()
        self.ca_bundle = None if ca_bundle is None else str(ca_bundle)

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if self.ca_bundle is not None:
            settings["verify"] = self.ca_bundle
        return settings


def _credentials(username: str | None, password_file: str | os.PathLike | None) -> tuple[str, str] | None:
    """(username, password) for HTTP basic authentication, the password read from the first line of its file."""
    if username is None and password_file is None:
        return None
    if username is None or password_file is None:
        raise UserError("--username and --password-file go together")
    try:
        password = Path(password_file).read_text().splitlines()[0].strip() if Path(password_file).stat().st_size else ""
    except OSError as err:
        raise UserError(f"--password-file {password_file}: cannot read it ({err.strerror or err})") from None
    if not password:
        raise UserError(f"--password-file {password_file}: empty")
    return username, password


def _value(dataset: dict, tag: str) -> str:
    """The first value of a DICOM JSON attribute as a string ("" when absent)."""
    values = dataset.get(tag, {}).get("Value") or [""]
    return str(values[0])


def _reason(err: BaseException) -> str:
    """The cause of a requests failure in a few words, without the request's URL (its query holds the patient ID)."""
    text = " ".join(str(err).split())
    for pattern in (r"\[Errno -?\d+\] [^'\")]+", r"certificate verify failed: [^'\"(]+", r"Read timed out",
                    r"Connection broken: [A-Za-z]+", r"Name or service not known"):
        found = re.search(pattern, text)
        if found:
            return found.group(0).strip()
    return re.sub(r"with url: \S+", "", text)[:160] or type(err).__name__
