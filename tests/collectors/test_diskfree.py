"""The one ``df -P -B1`` parser that the volume figures and the cache listing share."""

from __future__ import annotations

import pytest

from collectors.diskfree import DfFigures, DfOutputError, parse_df

HEAD = "Filesystem     1-blocks    Used Available Capacity Mounted on\n"


def test_one_file_system() -> None:
    out = HEAD + "/dev/sdb1    1073741824 2097152 1071644672       1% /app/models\n"
    assert parse_df(out) == DfFigures(total=1073741824, used=2097152, available=1071644672)


def test_a_device_name_wrapped_onto_its_own_line() -> None:
    out = HEAD + "fs-0123.efs.us-east-1.amazonaws.com:/\n"
    out += "               9223372036854771712 0 9223372036854771712   0% /app/models\n"
    assert parse_df(out) == (9223372036854771712, 0, 9223372036854771712)


def test_the_first_file_system_and_a_mount_point_with_spaces() -> None:
    out = HEAD + "/dev/sdb1 1000 400 600 40% /mnt/my models\n/dev/sdc1 9 9 0 100% /other\n"
    assert parse_df(out) == (1000, 400, 600)


def test_a_file_system_with_nothing_used_nor_free() -> None:
    # An empty pseudo file system: df prints "-" for the capacity.
    assert parse_df(HEAD + "none 0 0 0 - /app/models\n") == (0, 0, 0)


@pytest.mark.parametrize(
    ("out", "said"),
    [
        ("", "df printed nothing"),
        ("\n  \n", "df printed nothing"),
        (HEAD, "df printed only one line, no file system: 'Filesystem 1-blocks Used"),
        # -h output: rounded figures would be read as exact, so they are refused.
        (
            "Filesystem Size Used Avail Use% Mounted on\n"
            "/dev/sdb1 1.0G 2.0M 1022M 1% /app/models\n",
            "df printed no byte counts: '/dev/sdb1 1.0G 2.0M 1022M 1% /app/models'",
        ),
        (HEAD + "/dev/sdb1 1073741824 2097152\n", "df printed no byte counts: '/dev/sdb1"),
        # Digits int() does not take (superscripts) are not counts either.
        (HEAD + "/dev/x \u00b9\u00b2 \u00b2 \u00b3 1% /m\n", "df printed no byte counts"),
        (HEAD + "df: /app/models: Transport endpoint is not connected\n", "no byte counts"),
    ],
)
def test_output_without_figures_is_a_clear_error(out: str, said: str) -> None:
    with pytest.raises(DfOutputError) as caught:
        parse_df(out)
    assert said in str(caught.value)


def test_a_long_line_is_quoted_shortened_on_one_line() -> None:
    out = HEAD + "x" * 500 + "\t  y\n"
    with pytest.raises(DfOutputError) as caught:
        parse_df(out)
    message = str(caught.value)
    assert "\n" not in message and "\t" not in message and len(message) < 120, message
    assert message.endswith("…'")
