"""Offline readers of an archive: the read model (``reader``) and what is built on it.

Nothing under ``read/`` touches the network or writes to an archive.
"""
