"""The seal: the archive's history as a signed, append-only Merkle log (docs/ARCHIVE.md).

    events   what the archive records as history -> log events, in order (the catch-up)
    sealer   Sealer.sync(): log what is missing, sign the checkpoint; SealedStore hooks
    audit    crawler verify's checks of the log against the archive, and of a saved checkpoint
    proof    an export's seal (leaf, inclusion proof, checkpoint) and its offline check
    keyfile  where the signing key comes from (env, config), and keys init

The tree, the note format and the log's files are ``crawler.archive.merkle``,
``crawler.archive.note``, ``crawler.archive.log`` and ``crawler.archive.logstore``.
"""
