"""Hostile files for the loader bounds: tiny on disk, huge or slow once parsed.

Each is made in memory, in well under a second, from a seed that says how big it
unpacks; nothing is checked in.
"""

from __future__ import annotations

import io
import zipfile
import zlib

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

PARAGRAPH = "<w:p><w:r><w:t>零碳园区建设的第一批名单已经公布。</w:t></w:r></w:p>"


def _base_docx() -> dict[str, bytes]:
    """The members of an empty python-docx document."""
    import docx

    buf = io.BytesIO()
    docx.Document().save(buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
        return {name: z.read(name) for name in z.namelist()}


def docx_with_paragraphs(n: int) -> bytes:
    """A valid DOCX whose body is ``n`` copies of one paragraph (deflated: a 100 MB body is
    a few hundred KB on disk)."""
    members = _base_docx()
    xml = members["word/document.xml"].decode("utf-8")
    head, tail = xml.split("<w:body>", 1)  # tail: the section settings, </w:body></w:document>
    members["word/document.xml"] = (head + "<w:body>" + PARAGRAPH * n + tail).encode("utf-8")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def docx_unpacking_to(megabytes: float) -> bytes:
    """A DOCX whose document.xml alone is about ``megabytes`` MB."""
    return docx_with_paragraphs(int(megabytes * 1024 * 1024 / len(PARAGRAPH.encode("utf-8"))) + 1)


def pdf_sharing_one_stream(pages: int, operators: int) -> bytes:
    """A PDF of ``pages`` pages that all draw one FlateDecode content stream of
    ``operators`` text-showing operators (tiny compressed, slow to extract, once per page)."""
    return _pdf_drawing(pages, b"BT /F1 12 Tf 72 720 Td " + b"(zero carbon park) Tj 0 -1 Td " * operators + b"ET")


def pdf_with_stream_of(size: int) -> bytes:
    """A one-page PDF whose content stream inflates to ``size`` bytes (of spaces)."""
    return _pdf_drawing(1, b"BT /F1 12 Tf 72 720 Td (zero carbon park) Tj ET" + b" " * size)


def _pdf_drawing(pages: int, content: bytes) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    stream = DecodedStreamObject()
    stream.set_data(content)
    compressed = stream.flate_encode()
    ref = writer._add_object(compressed)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    resources = DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
    for page in writer.pages:
        page[NameObject("/Contents")] = ref
        page[NameObject("/Resources")] = resources
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def deflated_size(data: bytes) -> int:
    """How small ``data`` compresses (to state the fixtures' ratio in messages)."""
    return len(zlib.compress(data, 9))
