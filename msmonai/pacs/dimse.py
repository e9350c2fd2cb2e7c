"""A PACS reached over DIMSE (``pynetdicom``): C-FIND for the studies, series and, at IMAGE level, the header
attributes the T1 choice reads; C-GET for the images of one series; C-STORE for the report.

C-GET rather than C-MOVE: the images come back over the association this node opened, so the node needs no listening
port and the PACS only needs to know its calling AE title (as it must for any query). DIMSE here has neither TLS nor
user identity: the PACS trusts the AE title and address (``--url`` over HTTPS is the authenticated way).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Iterator

import pydicom
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLosslessSV1,
    RLELossless,
)
from pynetdicom import AE, build_role, evt
from pynetdicom.sop_class import (
    MRImageStorage,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
)

from msmonai.errors import UserError
from msmonai.pacs.archive import TIMEOUT_S, SeriesRef, check_patient_id

_PENDING = (0xFF00, 0xFF01)
_IMAGE_SYNTAXES = [ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, JPEG2000Lossless,
                   JPEGLosslessSV1, RLELossless]
# what io.headers checks and reads (SliceHeader, the weighting rules, the T1 choice), asked for at IMAGE level
HEADER_KEYWORDS = ("PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID", "Modality",
                   "StudyDate", "SeriesNumber", "SeriesDescription", "ProtocolName", "ImageType", "ScanningSequence",
                   "SequenceVariant", "RepetitionTime", "EchoTime", "InversionTime", "ContrastBolusAgent",
                   "ImageOrientationPatient", "ImagePositionPatient", "PixelSpacing", "Rows", "Columns",
                   "SamplesPerPixel", "PhotometricInterpretation", "NumberOfFrames")

logging.getLogger("pynetdicom").setLevel(logging.WARNING)  # its INFO lines narrate every association


class DimseArchive:
    """:class:`msmonai.pacs.archive.Archive` over DIMSE, the PACS given as ``HOST:PORT:AET``."""

    def __init__(self, address: str, calling_aet: str, timeout: float = TIMEOUT_S) -> None:
        parts = address.rsplit(":", 2)
        if len(parts) != 3 or not parts[0] or not parts[1].isdigit() or not 0 < len(parts[2]) <= 16:
            raise UserError(f"--dimse {address}: give HOST:PORT:AET, e.g. pacs.example:4242:ORTHANC")
        if not 0 < len(calling_aet) <= 16:
            raise UserError(f"--calling-aet {calling_aet!r}: an AE title has 1 to 16 characters")
        self.host, self.port, self.called_aet = parts[0], int(parts[1]), parts[2]
        self.calling_aet, self.timeout = calling_aet, timeout
        self.where = address

    def mr_series(self, patient_id: str) -> list[SeriesRef]:
        """Every MR series of the patient whose PatientID is exactly ``patient_id``, oldest study first."""
        check_patient_id(patient_id)
        with self._association("the patient's studies", [StudyRootQueryRetrieveInformationModelFind]) as assoc:
            studies = [s for s in self._find(assoc, "STUDY", PatientID=patient_id, StudyInstanceUID="", StudyDate="")
                       if str(s.get("PatientID", "")) == patient_id]
            refs = []
            for study in sorted(studies, key=lambda s: (str(s.get("StudyDate", "")), s.StudyInstanceUID)):
                found = self._find(assoc, "SERIES", StudyInstanceUID=study.StudyInstanceUID, SeriesInstanceUID="",
                                   Modality="")
                refs += [SeriesRef(study.StudyInstanceUID, series.SeriesInstanceUID, str(study.get("StudyDate", "")))
                         for series in found if series.get("Modality") == "MR"]
        return refs

    def headers(self, series: SeriesRef) -> list[pydicom.Dataset]:
        """The series' instances as header-only datasets (C-FIND at IMAGE level with every attribute read)."""
        keys = {keyword: "" for keyword in HEADER_KEYWORDS}
        keys.update(StudyInstanceUID=series.study_uid, SeriesInstanceUID=series.series_uid, Rows=None, Columns=None,
                    SamplesPerPixel=None)
        with self._association("the headers of a series", [StudyRootQueryRetrieveInformationModelFind]) as assoc:
            return self._find(assoc, "IMAGE", **keys)

    def instances(self, series: SeriesRef) -> Iterator[pydicom.Dataset]:
        """The series' instances with their pixel data (C-GET at SERIES level), in the order received."""
        received: list[pydicom.Dataset] = []

        def keep(event) -> int:
            dataset = event.dataset
            dataset.file_meta = event.file_meta
            received.append(dataset)
            return 0x0000

        query = _query("SERIES", StudyInstanceUID=series.study_uid, SeriesInstanceUID=series.series_uid)
        with self._association("the images of a series", [StudyRootQueryRetrieveInformationModelGet],
                               storage_scp=True, handlers=[(evt.EVT_C_STORE, keep)]) as assoc:
            statuses = [status for status, _ in assoc.send_c_get(query, StudyRootQueryRetrieveInformationModelGet)]
            _check_final(statuses, self.where, "the images of a series", self.calling_aet)
        yield from received

    def store(self, dataset: pydicom.Dataset) -> None:
        """C-STORE ``dataset``; raises :class:`UserError` unless the archive accepted it."""
        with self._association("the report's storage", [dataset.SOPClassUID]) as assoc:
            status = assoc.send_c_store(dataset)
        if not status or status.Status != 0x0000:
            code = f"0x{status.Status:04X}" if status else "no answer"
            raise UserError(f"{self.where}: the PACS refused to store the report (C-STORE status {code})")

    def has_series(self, study_uid: str, series_uid: str) -> bool:
        """Whether the archive lists the series (C-FIND at SERIES level)."""
        with self._association("the stored report", [StudyRootQueryRetrieveInformationModelFind]) as assoc:
            return bool(self._find(assoc, "SERIES", StudyInstanceUID=study_uid, SeriesInstanceUID=series_uid))

    @contextlib.contextmanager
    def _association(self, what: str, contexts: list, storage_scp: bool = False, handlers: list | None = None):
        """An association proposing ``contexts`` (SOP classes) for asking ``what``, with ``storage_scp`` also taking
        MR images back (C-GET); refused, unreachable or aborted associations become one line."""
        ae = AE(ae_title=self.calling_aet)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = self.timeout
        for context in contexts:
            ae.add_requested_context(context)
        roles = []
        if storage_scp:
            ae.add_requested_context(MRImageStorage, _IMAGE_SYNTAXES)
            roles.append(build_role(MRImageStorage, scp_role=True))
        assoc = ae.associate(self.host, self.port, ae_title=self.called_aet, ext_neg=roles, evt_handlers=handlers or [])
        if not assoc.is_established:
            if assoc.is_rejected:
                raise UserError(f"{self.where}: the PACS rejected the association of AE title {self.calling_aet} "
                                "(is it registered in the PACS with this node's address?)")
            raise UserError(f"{self.where}: PACS not reachable (no DICOM association for {what})")
        try:
            yield assoc
            if assoc.is_aborted:
                raise UserError(f"{self.where}: the association was aborted while asking for {what}")
        finally:
            assoc.release()

    def _find(self, assoc, level: str, **keys) -> list[pydicom.Dataset]:
        """The C-FIND matches at ``level`` (StudyRoot); a failure status or a cut association is one line."""
        answers, statuses = [], []
        for status, identifier in assoc.send_c_find(_query(level, **keys), StudyRootQueryRetrieveInformationModelFind):
            statuses.append(status)
            if status and status.Status in _PENDING and identifier is not None:
                answers.append(identifier)
        _check_final(statuses, self.where, f"a {level.lower()}-level query", self.calling_aet)
        return answers


def _query(level: str, **keys) -> pydicom.Dataset:
    query = pydicom.Dataset()
    query.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(query, keyword, value)
    return query


def _check_final(statuses: list, where: str, what: str, calling_aet: str) -> None:
    """Raise unless the last status of a C-FIND/C-GET says success (or warning: some sub-operations failed, which
    the retrieval's count of instances reports)."""
    final = statuses[-1] if statuses else None
    if not final or "Status" not in final:
        raise UserError(f"{where}: no answer to {what} (refused, cut off or timed out; does the PACS know AE title "
                        f"{calling_aet} at this node's address?)")
    if final.Status not in (0x0000, 0xB000):
        raise UserError(f"{where}: the PACS answered {what} with status 0x{final.Status:04X}")
