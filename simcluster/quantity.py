"""Kubernetes resource quantities (`50Gi`, `1.5G`, `500m`, `1e3`) to numbers and back.

PVC sizes and node capacities travel as these strings; the API server prints them the way
`resource.Quantity` does (`50Gi` stays `50Gi`), and the kubelet needs them in bytes.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)$")


class QuantityError(ValueError):
    pass


def parse_quantity(text: str) -> Decimal:
    """The value of a quantity string; raises QuantityError with the message the API uses."""
    m = _QUANTITY.match(text.strip())
    if m is None:
        raise QuantityError(
            "quantities must match the regular expression "
            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        )
    try:
        number = Decimal(m.group(1))
    except InvalidOperation:
        raise QuantityError(f"unable to parse quantity's number: {m.group(1)}") from None
    suffix = m.group(2)
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix[:1] in ("e", "E"):
        return number * (Decimal(10) ** int(suffix[1:]))
    return number * _DECIMAL[suffix]


def quantity_bytes(text: str) -> int:
    """A storage quantity in whole bytes (rounded up, as the kubelet sizes volumes)."""
    value = parse_quantity(text)
    whole = int(value)
    return whole + (1 if value > whole else 0)


def format_bytes_quantity(n: int) -> str:
    """Bytes as the canonical binary quantity when exact (`53687091200` -> `50Gi`)."""
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = _BINARY[suffix]
        if n and n % unit == 0:
            return f"{n // unit}{suffix}"
    return str(n)


_DECIMAL_SUFFIX = {
    -9: "n",
    -6: "u",
    -3: "m",
    0: "",
    3: "k",
    6: "M",
    9: "G",
    12: "T",
    15: "P",
    18: "E",
}


def canonical_quantity(text: str) -> str:
    """A quantity as `resource.Quantity.String()` prints it once parsed (`1024Mi` -> `1Gi`,
    `1.5G` -> `1500M`, `20Gi` stays `20Gi`, a plain byte count stays a plain number), as it
    appears in messages such as the kubelet's eviction message. Unparsable text comes back."""
    m = _QUANTITY.match(text.strip())
    if m is None:
        return text
    try:
        value = parse_quantity(text)
    except QuantityError:
        return text
    suffix = m.group(2)
    if suffix[:1] in ("e", "E") and value != 0:
        return text.strip()  # DecimalExponent: kept as written
    return format_quantity(value, binary=suffix in _BINARY) or text.strip()


def is_binary(text: str) -> bool:
    """Whether a quantity is written in the binary format (`Mi`, `Gi`, ...), which a sum
    starting with it keeps (`resource.Quantity.Add` takes the first non-zero term's format)."""
    m = _QUANTITY.match(text.strip())
    return m is not None and m.group(2) in _BINARY


def format_quantity(value: Decimal, binary: bool = False) -> str:
    """A value as `resource.Quantity.String()` prints it in the BinarySI (`binary`) or
    DecimalSI format: `268435456` binary -> `256Mi`, `1.5` -> `1500m`; a binary value under
    1024 or with a fraction is printed as DecimalSI, as Go does. Empty if it cannot be."""
    if value == 0:
        return "0"
    if binary and abs(value) >= 1024 and value == int(value):
        n = int(value)
        for name in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
            unit = _BINARY[name]
            if n % unit == 0:
                return f"{n // unit}{name}"
        return str(n)
    # DecimalSI: the largest exponent (a multiple of 3) that leaves an integral mantissa.
    for exp in range(18, -12, -3):
        mantissa = value / (Decimal(10) ** exp)
        if mantissa == int(mantissa) and exp in _DECIMAL_SUFFIX:
            return f"{int(mantissa)}{_DECIMAL_SUFFIX[exp]}"
    return ""
