"""Values of single data elements read from their raw bytes, skipping pydicom's value conversion.

pydicom converts an element on first access (keyword lookup, hooks, a validated ``DSfloat`` per number...), about
10 µs per element: for the ~15 elements checked per slice that cost as much as reading the file. These helpers
parse a raw element's bytes the way pydicom's conversion does (trailing spaces and NULs dropped, ``\\`` between
values); an element pydicom has already converted is read from its value.
"""

from __future__ import annotations

from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue


def text(ds: Dataset, keyword: str) -> str:
    """A string element (UI, CS, DS, IS, LO...) as one string, values joined by ``\\``; "" when absent or empty."""
    element = ds.get_item(tag_for_keyword(keyword))
    if element is None:
        return ""
    if isinstance(element, RawDataElement):
        return (element.value or b"").decode("latin-1").rstrip(" \0")  # pydicom's default character set
    value = element.value
    if isinstance(value, MultiValue):
        return "\\".join(str(v) for v in value)
    return "" if value is None else str(value)


def numbers(ds: Dataset, keyword: str) -> tuple[float, ...]:
    """The values of a DS element.

    Raises:
        ValueError: a value that is not a number (an absent or empty element has one empty value).
    """
    return tuple(float(v) for v in text(ds, keyword).split("\\"))


def codes(ds: Dataset, keyword: str) -> tuple[str, ...]:
    """The values of a code string (CS) element, each stripped, empty ones dropped; () when absent or empty."""
    return tuple(value for value in (v.strip() for v in text(ds, keyword).split("\\")) if value)


def optional_number(ds: Dataset, keyword: str) -> float | None:
    """The value of a single-valued DS or IS element; None when absent, empty, several values or not a number."""
    try:
        return float(text(ds, keyword))
    except ValueError:
        return None


def optional_integer(ds: Dataset, keyword: str) -> int | None:
    """The value of a single-valued IS element ("5" or "5.0", as pydicom reads it); None otherwise."""
    number = optional_number(ds, keyword)
    return int(number) if number is not None and number.is_integer() else None


def unsigned(ds: Dataset, keyword: str) -> int | None:
    """The value of a single-valued US element; None when absent or empty.

    Raises:
        ValueError: more than one value (or a length other than 2 bytes).
        TypeError: a converted element holding several values.
    """
    element = ds.get_item(tag_for_keyword(keyword))
    if element is None:
        return None
    if not isinstance(element, RawDataElement):
        return None if element.value in (None, "") else int(element.value)
    value = element.value or b""
    if not value:
        return None
    if len(value) != 2:
        raise ValueError(f"{keyword} holds {len(value)} bytes, expected one 2-byte value")
    return int.from_bytes(value, "little" if element.is_little_endian else "big")
