"""The device list of ``asckit predict --devices LIST.csv``: which recording device made each file.

One job: read the list and look a file up in it. Plain Python (no numpy, no pandas), so the
torch-free runtime reads it.

The list is TAB-separated, its first line a header naming the columns ``filename`` and
``device_id`` (other columns are ignored), one row per recording: the layout of the DCASE 2025
evaluation set's ``evaluation_setup/fold1_test.csv`` (reference/dcase2025 README §5). An empty
``device_id`` means the recording has no id. A filename listed twice is an error, whatever the ids.

**Which row a file takes:** the row whose filename is the longest trailing part of the file's path,
compared path component by component: the whole path as given on the command line (or as found
in a folder given there), ``audio/0.wav`` under any folder, or the bare name ``0.wav``; where the
path as given matches no row, its absolute path is tried the same way. So ``fold1_test.csv`` works
with the evaluation set's folder or its ``audio/`` files given in any form. A file that matches no
row has no device id (the general model classifies it) and is counted as unlisted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from asckit.core.errors import AsckitError

#: The columns the header must name.
FILENAME_COLUMN, DEVICE_COLUMN = "filename", "device_id"
#: The header a user is told to write.
EXPECTED_HEADER = f"{FILENAME_COLUMN}<TAB>{DEVICE_COLUMN}"


def _key(name: str | os.PathLike) -> tuple[str, ...]:
    """A filename as path components ('./audio/0.wav' and 'audio/0.wav' are the same key)."""
    return PurePosixPath(str(name).replace("\\", "/")).parts


@dataclass
class DeviceList:
    """The rows of a device list: filename components → device id (None: no id)."""

    path: Path
    rows: dict[tuple[str, ...], str | None] = field(default_factory=dict)

    @classmethod
    def read(cls, path: str | os.PathLike) -> DeviceList:
        """Read ``path`` (module docstring), or a one-line AsckitError naming the line and the fix."""
        path = Path(path)
        if path.is_dir():
            raise AsckitError(f"{path}: is a folder, not a device list; give the list file, e.g. {path / 'evaluation_setup' / 'fold1_test.csv'}")
        if not path.is_file():
            raise AsckitError(f"{path}: no such device list; check the path (a TAB-separated file with the header {EXPECTED_HEADER})")
        try:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
        except UnicodeDecodeError:
            raise AsckitError(f"{path}: not UTF-8 text; save the device list as UTF-8 with the header {EXPECTED_HEADER}") from None
        except OSError as exc:
            raise AsckitError(f"{path}: cannot be read ({exc.strerror}); check its permissions") from None
        if not lines or not lines[0].strip():
            raise AsckitError(f"{path}: empty; the first line must be the header {EXPECTED_HEADER}, then one row per file")
        header = lines[0].split("\t")
        if len(header) == 1 and any(sep in lines[0] for sep in ",; "):
            raise AsckitError(
                f"{path}: not TAB-separated (header {lines[0][:60]!r}); separate the columns with TABs: {EXPECTED_HEADER}"
            )
        if FILENAME_COLUMN not in header or DEVICE_COLUMN not in header:
            raise AsckitError(f"{path}: the header {lines[0][:60]!r} lacks the columns {FILENAME_COLUMN} and {DEVICE_COLUMN}; "
                              f"make the first line {EXPECTED_HEADER}")
        name_at, device_at = header.index(FILENAME_COLUMN), header.index(DEVICE_COLUMN)
        rows: dict[tuple[str, ...], str | None] = {}
        seen: dict[tuple[str, ...], int] = {}
        for number, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != len(header):
                raise AsckitError(
                    f"{path}:{number}: {len(fields)} TAB-separated fields, the header has {len(header)}; write each row as filename<TAB>device_id"
                )
            name, device = fields[name_at].strip(), fields[device_at].strip()
            key = _key(name)
            if not key:
                raise AsckitError(f"{path}:{number}: the filename is empty; give each row the file's name, e.g. audio/0.wav")
            if key in seen:
                raise AsckitError(f"{path}:{number}: {name} is listed twice (also line {seen[key]}); give each file one row")
            seen[key] = number
            rows[key] = device or None
        if not rows:
            raise AsckitError(f"{path}: lists no files, only its header; add one row filename<TAB>device_id per recording")
        return cls(path, rows)

    def _row(self, file: str | os.PathLike) -> tuple[str, ...] | None:
        for parts in (_key(file), Path(file).resolve().parts):
            for start in range(len(parts)):
                if parts[start:] in self.rows:
                    return parts[start:]
        return None

    def is_listed(self, file: str | os.PathLike) -> bool:
        """Whether a row names ``file`` (module docstring)."""
        return self._row(file) is not None

    def device_of(self, file: str | os.PathLike) -> str | None:
        """The device id of ``file``: its row's, or None when its row has none or no row names it."""
        row = self._row(file)
        return None if row is None else self.rows[row]

    def __len__(self) -> int:
        return len(self.rows)


__all__ = ["DEVICE_COLUMN", "EXPECTED_HEADER", "FILENAME_COLUMN", "DeviceList"]
