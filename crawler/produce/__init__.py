"""Productions: a snapshot as a Bates-numbered load-file volume for a review platform.

    run        ``crawler produce``: check, write, register, put in place (or --reproduce)
    register   the selection, "the same selection", the register entry and the seal's hook
    volume     the numbered walk: families -> natives, texts, DAT records, EDRM documents
    family     one project as one family: the sheet, then its documents and files
    sheet      the project sheet, as HTML (native) and text
    bates      numbers, prefixes, volume names, and every path a production writes
    dat        the DAT codec (Concordance defaults), the field dictionary, the privilege log
    edrm       EDRM XML 1.2, streamed
    files      files hashed while written, listed in production.md5 / .sha256
    place      production.json, the BagIt wrapper, the build directory and its rename
    verify     ``crawler verify-production``: its own DAT parser, every native rehashed

The register itself is ``crawler.archive.productions`` (docs/ARCHIVE.md).
"""
