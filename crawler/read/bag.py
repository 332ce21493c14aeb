"""BagIt (RFC 8493) export and check, written by hand: no bagit library at runtime.

A bag made by ``crawler export --bag DIR``::

    DIR/
      bagit.txt                 BagIt-Version 1.0, UTF-8
      bag-info.txt              collection metadata: source, snapshot, filters, times, counts
      manifest-md5.txt          every payload file: "<md5>  data/<path>"
      manifest-sha256.txt       the same with sha256
      export-manifest.json      the export manifest (paths relative to data/), a tag file
      tagmanifest-md5.txt       every tag file above
      tagmanifest-sha256.txt
      data/projects.ndjson      the export, exactly as ``crawler export --out`` writes it
      data/files/<sha256>       file bodies, named by hash (never by the API's filename)

The bag is built in a hidden sibling directory and renamed into place when complete,
so DIR either does not exist or is a whole bag.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import orjson

from crawler import __version__
from crawler.archive.fs import fsync_dir, os_error, write_file_atomic
from crawler.archive.note import Verifier
from crawler.errors import UsageError
from crawler.read.export import ExportOptions, ExportResult, WrittenFile, write_ndjson_file
from crawler.read.reader import ArchiveReader
from crawler.read.verify_export import ExportCheck, check_file, check_seal_file
from crawler.seal.proof import export_seal, load_seal

BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
ALGORITHMS = ("md5", "sha256")
NDJSON_NAME = "projects.ndjson"
EXPORT_MANIFEST = "export-manifest.json"
SEAL_TAG = "seal.json"
DEFAULT_SOURCE = "Claude projects, collected through the Anthropic Compliance API"


def _one_line(value: object) -> str:
    # A bag-info value must stay on its line; a line break would start a new label.
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return " ".join(text.split())


def _manifest_lines(files: list[WrittenFile], algorithm: str, prefix: str) -> bytes:
    lines = []
    for f in files:
        digest = f.md5 if algorithm == "md5" else f.sha256
        lines.append(f"{digest}  {prefix}{_encode_path(f.path)}\n")
    return "".join(lines).encode("utf-8")


def _encode_path(path: str) -> str:
    # RFC 8493 2.1.3: percent-encode only %, CR and LF in manifest paths.
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _decode_path(path: str) -> str:
    return (
        path.replace("%0A", "\n")
        .replace("%0a", "\n")
        .replace("%0D", "\r")
        .replace("%0d", "\r")
        .replace("%25", "%")
    )


def bag_info(
    result: ExportResult, payload: list[WrittenFile], source_organization: str
) -> list[tuple[str, str]]:
    """The bag-info.txt labels, in order."""
    snap = result.snapshot
    counts = result.counts
    total = sum(f.size for f in payload)
    filters = result.options.filters.to_json()
    description = (
        f"Export of crawler snapshot {snap.id} ({snap.status}): {counts['projects']} projects "
        f"as connector-shaped NDJSON (data/{NDJSON_NAME}) with file bodies under data/files/ "
        "named by sha256; see export-manifest.json."
    )
    info: list[tuple[str, str]] = [
        ("Source-Organization", source_organization),
        ("External-Description", description),
        ("External-Identifier", f"crawler-snapshot:{snap.id}"),
        ("Bagging-Date", datetime.now(UTC).strftime("%Y-%m-%d")),
        ("Bag-Software-Agent", f"crawler {__version__}"),
        ("Payload-Oxum", f"{total}.{len(payload)}"),
        ("Crawler-Snapshot-Id", snap.id),
        ("Crawler-Snapshot-Status", snap.status),
        ("Crawler-Snapshot-Incremental", "true" if snap.incremental else "false"),
        ("Crawler-Snapshot-Started", snap.started_at),
        ("Crawler-Snapshot-Finished", snap.finished_at or "unfinished"),
        ("Crawler-Snapshot-Filters", _one_line(snap.filters)),
        ("Crawler-Snapshot-Manifest-SHA256", snap.manifest_sha256 or "none"),
        ("Crawler-Export-Filters", _one_line(filters)),
        ("Crawler-Export-Include-Content", "true" if result.options.include_content else "false"),
        ("Crawler-Export-Created", result.created_at),
    ]
    for key, value in counts.items():
        info.append((f"Crawler-Count-{key.replace('_', '-').title()}", str(value)))
    return [(label, _one_line(value)) for label, value in info]


def write_bag(
    reader: ArchiveReader,
    options: ExportOptions,
    bag_dir: Path,
    *,
    source_organization: str = DEFAULT_SOURCE,
) -> ExportResult:
    """Write the export of ``options`` as a BagIt bag at ``bag_dir`` (which must not exist,
    or be an empty directory)."""
    snapshot = reader.snapshot(options.snapshot_id)
    if bag_dir.exists() and (not bag_dir.is_dir() or any(bag_dir.iterdir())):
        raise UsageError(f"--bag {bag_dir}: already exists and is not an empty directory")
    parent = bag_dir.parent
    if not parent.is_dir():
        raise UsageError(f"--bag {bag_dir}: the directory {parent} does not exist")
    tmp = parent / f".{bag_dir.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        os.mkdir(tmp, 0o755)
        data = tmp / "data"
        os.mkdir(data, 0o755)
        opts = replace(options, files_dir=data / "files")
        result = write_ndjson_file(reader, snapshot, opts, data / NDJSON_NAME, base=data)
        payload = ([result.ndjson] if result.ndjson else []) + result.files
        tags: list[WrittenFile] = []

        def tag(name: str, body: bytes) -> None:
            md5, sha, size = write_file_atomic(tmp / name, body)
            tags.append(WrittenFile(name, md5, sha, size))

        tag("bagit.txt", BAGIT_TXT)
        info = bag_info(result, payload, source_organization)
        tag("bag-info.txt", "".join(f"{k}: {v}\n" for k, v in info).encode("utf-8"))
        for alg in ALGORITHMS:
            tag(f"manifest-{alg}.txt", _manifest_lines(payload, alg, "data/"))
        manifest = result.manifest()
        manifest["base"] = "data"  # paths in it are relative to data/
        seal = export_seal(reader.archive.store, snapshot.id, snapshot.manifest_sha256)
        if seal is not None:  # a tag file: the snapshot's place in the archive's signed log
            tag(SEAL_TAG, orjson.dumps(seal, option=orjson.OPT_INDENT_2))
        tag(EXPORT_MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
        for alg in ALGORITHMS:
            write_file_atomic(tmp / f"tagmanifest-{alg}.txt", _manifest_lines(tags, alg, ""))
        if bag_dir.exists():
            bag_dir.rmdir()  # empty, checked above
        os.rename(tmp, bag_dir)
        fsync_dir(parent)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise os_error(exc, "write the bag", bag_dir) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result


# -- checking a bag ---------------------------------------------------------------------------


def _read_tag_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _manifest_entries(path: Path, check: ExportCheck) -> dict[str, str]:
    entries: dict[str, str] = {}
    for n, line in enumerate(_read_tag_lines(path), 1):
        if not line.strip():
            continue
        parts = line.split(None, 1)
        if len(parts) != 2:
            check.problems.append(f"{path.name} line {n}: malformed")
            continue
        entries[_decode_path(parts[1].strip())] = parts[0].lower()
    return entries


def verify_bag(bag_dir: Path, trusted: Verifier | None = None) -> ExportCheck:
    """Check a bag: bagit.txt, every manifest and tag manifest entry, completeness, Oxum;
    and its seal (``seal.json``), with ``trusted`` or the key embedded in it."""
    check = ExportCheck()
    if (bag_dir / SEAL_TAG).is_file():
        manifest = load_seal(bag_dir / EXPORT_MANIFEST)
        check_seal_file(check, manifest, bag_dir / SEAL_TAG, trusted)
    if not (bag_dir / "bagit.txt").is_file():
        raise UsageError(f"{bag_dir} is not a BagIt bag (no bagit.txt)")
    try:
        declared = dict(
            line.split(": ", 1) for line in _read_tag_lines(bag_dir / "bagit.txt") if ": " in line
        )
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {bag_dir / 'bagit.txt'}: {exc}") from None
    if declared.get("BagIt-Version") not in ("0.97", "1.0"):
        check.problems.append("bagit.txt: unsupported or missing BagIt-Version")
    payload_listed: set[str] = set()
    manifests = sorted(bag_dir.glob("manifest-*.txt"))
    if not manifests:
        check.problems.append("no payload manifest (manifest-<algorithm>.txt)")
    for kind, paths in (
        ("manifest", manifests),
        ("tagmanifest", sorted(bag_dir.glob("tagmanifest-*.txt"))),
    ):
        for manifest in paths:
            alg = manifest.name[len(kind) + 1 : -len(".txt")]
            if alg not in hashlib.algorithms_available:
                check.problems.append(f"{manifest.name}: unknown algorithm {alg}")
                continue
            for rel, digest in _manifest_entries(manifest, check).items():
                if os.path.isabs(rel) or ".." in Path(rel).parts:
                    check.problems.append(f"{manifest.name}: unsafe path {rel!r}")
                    continue
                if kind == "manifest":
                    payload_listed.add(rel)
                check.checked += 1
                problem = _check_digest(bag_dir, rel, alg, digest)
                if problem:
                    check.problems.append(f"{problem} (per {manifest.name})")
    data = bag_dir / "data"
    total, count = 0, 0
    for root, _dirs, names in os.walk(data):
        for name in names:
            path = Path(root) / name
            rel = path.relative_to(bag_dir).as_posix()
            total += path.stat().st_size
            count += 1
            if manifests and rel not in payload_listed:
                check.problems.append(f"{rel}: in the payload but in no manifest")
    with contextlib.suppress(OSError, UnicodeDecodeError):
        for line in _read_tag_lines(bag_dir / "bag-info.txt"):
            if line.startswith("Payload-Oxum:"):
                oxum = line.split(":", 1)[1].strip()
                if oxum != f"{total}.{count}":
                    check.problems.append(
                        f"bag-info.txt: Payload-Oxum {oxum}, but the payload is {total}.{count}"
                    )
    return check


def _check_digest(base: Path, rel: str, alg: str, digest: str) -> str | None:
    if alg in ("md5", "sha256"):
        return check_file(base, rel, {alg: digest})
    h = hashlib.new(alg)
    try:
        with open(base / rel, "rb") as f:
            while chunk := f.read(1024 * 1024):
                h.update(chunk)
    except FileNotFoundError:
        return f"{rel}: missing"
    except OSError as exc:
        return f"{rel}: cannot read: {exc.strerror}"
    return None if h.hexdigest() == digest else f"{rel}: {alg} {h.hexdigest()}, expected {digest}"
