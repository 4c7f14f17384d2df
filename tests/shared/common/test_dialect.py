import codecs

import pytest

from shared.common.dialect import check_encoding, detect
from shared.common.errors import Rejected


@pytest.mark.parametrize(("name", "delimiter"), [("a.csv", ","), ("a.TSV", "\t"), ("dir/a.psv", "|")])
def test_generic_delimiter_from_extension(name, delimiter):
    assert detect(name, "healthcare", "x") == delimiter


@pytest.mark.parametrize(("header", "delimiter"), [("A|B|C", "|"), ("A\tB\tC", "\t")])
def test_epic_txt_delimiter_from_header(header, delimiter):
    assert detect("epic.txt", "epic", header) == delimiter


@pytest.mark.parametrize(
    ("name", "kind", "code"),
    [("a.xlsx", "healthcare", "extension"), ("a.csv", "epic", "extension"), ("a.txt", "epic", "delimiter")],
)
def test_unsupported_files_are_rejected_with_a_reason(name, kind, code):
    with pytest.raises(Rejected) as err:
        detect(name, kind, "A,B,C")
    assert err.value.code == code and name in err.value.message


def test_bom_length_and_utf16_rejected():
    assert check_encoding(codecs.BOM_UTF8 + b"a,b", "f.csv") == 3
    assert check_encoding(b"a,b", "f.csv") == 0
    with pytest.raises(Rejected, match="UTF-16"):
        check_encoding(codecs.BOM_UTF16_LE + "a".encode("utf-16-le"), "f.csv")
    with pytest.raises(Rejected, match=r"UTF-16 text .* Save As"):
        check_encoding("a,b".encode("utf-16-le"), "f.csv")
    with pytest.raises(Rejected, match="NUL bytes in its first line"):
        check_encoding(b"a,b\x00\x01\x02c,d", "f.csv")
