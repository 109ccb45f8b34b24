"""What a file is when it is not the comma-separated UTF-8 text an extract must be.

An agency that sends the wrong thing should be told what it sent, not that its file lacks every
column: "UTF-16 text" (Excel's "Unicode text"), "semicolon-separated" (a continental Excel's CSV),
a spreadsheet workbook renamed .csv, a compressed file, a PDF, a web page saved in place of an
export, JSON, a spreadsheet's "sep=," line above the header. Only the file's first bytes and its
header line are looked at, and a reason names the format alone, never a value from the file.
"""

from __future__ import annotations

import re

_BOMS = (  # longest first: UTF-32's little-endian mark begins with UTF-16's
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"),
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)"),
    (b"\xff\xfe", "UTF-16 (little-endian)"),
    (b"\xfe\xff", "UTF-16 (big-endian)"),
)
_SIGNATURES = (
    (b"PK\x03\x04", "a zip archive (an Excel workbook, .xlsx, is one)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old-style Office document (an Excel .xls workbook?)"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"BZh", "a bzip2-compressed file"),
    (b"\xfd7zXZ\x00", "an xz-compressed file"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"%PDF", "a PDF document"),
)
_HTML = re.compile(rb"\s*<(?:!doctype\s+html|html|head|body)\b", re.IGNORECASE)
_XML = re.compile(rb"\s*<\?xml\b", re.IGNORECASE)
_JSON = re.compile(rb"\s*(?:\{\s*(?:\"|\})|\[\s*[\[{\"\]])")
_SEPARATOR_LINE = re.compile(rb"sep=[^\r\n]?\r?(?:\n|$)", re.IGNORECASE)
SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}
SAVE_AS = "save it as CSV UTF-8 (comma delimited), as the extract specification asks"


def not_text(data: bytes) -> str | None:
    """The reason a file is refused before it is decoded, or None when it may be UTF-8 or cp1252 text.

    Text in UTF-16 without its byte-order mark is known by its NUL bytes: every other byte of
    ASCII text. Any other NUL-heavy file is binary, whatever its name says.
    """
    head = data[:4096]
    for bom, name in _BOMS:
        if head.startswith(bom):
            return f"the file is {name} text, not UTF-8: {SAVE_AS}"
    for signature, name in _SIGNATURES:
        if head.startswith(signature):
            return f"the file is {name}, not a CSV file: {SAVE_AS}"
    text = head.removeprefix(b"\xef\xbb\xbf")
    if _HTML.match(text):
        return (f"the file is a web page (HTML), as a failed download saves a portal's error or sign-in page, "
                f"not CSV: export the extract again and {SAVE_AS}")
    if _XML.match(text):
        return f"the file is an XML document, not CSV: {SAVE_AS}"
    if _JSON.match(text):
        return f"the file is JSON, not CSV: {SAVE_AS}"
    if _SEPARATOR_LINE.match(text):
        return ('line 1 is a spreadsheet\'s "sep=" line (naming the delimiter), not the header: save the file '
                "without it, so that the header is line 1")
    nuls = head.count(b"\x00")
    if nuls and nuls * 4 >= len(head):
        even, odd = head[0::2].count(b"\x00"), head[1::2].count(b"\x00")
        if min(even, odd) * 8 < max(even, odd):
            order = "little-endian" if odd > even else "big-endian"
            return f"the file is UTF-16 ({order}) text without a byte-order mark, not UTF-8: {SAVE_AS}"
        return f"the file is binary (a quarter or more of its first bytes are NUL), not CSV text: {SAVE_AS}"
    return None


def separated_by(header: list[str], columns: set[str]) -> str | None:
    """The separator the header line was written with when it is not a comma, or None.

    Read as comma-separated, a semicolon-separated header is one or a few cells; split again on a
    candidate separator, at least half of its cells must then be contract column names.
    """
    line = ",".join(header)
    for separator, name in SEPARATORS.items():
        cells = [c.strip().strip('"').strip().lower() for c in line.split(separator)]
        if len(cells) > 1 and sum(c in columns for c in cells) * 2 >= len(cells):
            return name
    return None
