"""What a file sent as an extract is, when its first bytes show it is not CSV text at all.

A failed export or a file saved the wrong way still arrives under the extract's name: a portal's
error page, a JSON download, a compressed file, an Excel workbook, a spreadsheet's "sep=," line
above the header. Read as CSV, each gives a "header" of markup or binary that lacks every contract
column, and the refusal would list the whole contract as missing, pointing the agency at the wrong
fix. The first bytes say what the file is; only that is named, never any of the file's content.
"""

from __future__ import annotations

import re

# Leading bytes of file kinds an export is mistaken for, and what to do instead.
SIGNATURES: list[tuple[bytes, str]] = [
    (b"\x1f\x8b", "gzip-compressed: send it uncompressed"),
    (b"PK\x03\x04", "a zip archive (an Excel .xlsx workbook is one): save the sheet as CSV, uncompressed"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel .xls workbook or another Office document: save the sheet as CSV"),
    (b"%PDF-", "a PDF document: export the extract as CSV"),
    (b"\xfd7zXZ\x00", "xz-compressed: send it uncompressed"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive: send the CSV uncompressed"),
]
_HTML = re.compile(rb"\s*<(?:!doctype\s+html|html|head|body)\b", re.IGNORECASE)
_XML = re.compile(rb"\s*<\?xml\b", re.IGNORECASE)
_JSON = re.compile(rb"\s*(?:\{\s*(?:\"|\})|\[\s*[\[{\"\]])")
_SEPARATOR_LINE = re.compile(rb"sep=[^\r\n]?\r?(?:\n|$)", re.IGNORECASE)
BOM = b"\xef\xbb\xbf"


def not_csv(data: bytes) -> str | None:
    """Why `data` cannot be a CSV extract, by what it is; None when it may be one."""
    for magic, what in SIGNATURES:
        if data.startswith(magic):
            return f"not CSV text: the file is {what}"
    head = data[:1024].removeprefix(BOM)
    if _HTML.match(head):
        return ("not CSV text: the file is a web page (HTML), as a failed download saves a portal's error or "
                "sign-in page: export the extract again")
    if _XML.match(head):
        return "not CSV text: the file is an XML document: export the extract as CSV"
    if _JSON.match(head):
        return "not CSV text: the file is JSON: export the extract as CSV"
    if _SEPARATOR_LINE.match(head):
        return ('line 1 is a spreadsheet\'s "sep=" line (naming the delimiter), not the header: save the file '
                "without it, so that the header is line 1")
    return None
