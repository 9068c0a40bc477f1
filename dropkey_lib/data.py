"""CIFAR-10 for the course: find it, decode it once and keep it as uint8 (batches and augmentation: `batches.py`).

Where the data comes from, first match wins:

1. an explicit path: the `data` argument (the CLI's `--data`), else the environment variable DROPKEY_DATA;
2. torchvision's files in the cache folder: `cifar-10-batches-py/`, else its archive `cifar-10-python.tar.gz`;
3. an image-folder copy in the cache folder: `cifar10-jpeg/` (`train/<class>/*`, `test/<class>/*`), else a
   `cifar10-jpeg.tar.gz` of that tree;
4. torchvision's download of the original archive into the cache folder.

An explicit path may be any of those forms: a `cifar-10-batches-py` folder, its parent, `cifar-10-python.tar.gz`,
an image-folder tree or a .tar.gz of one. The cache folder is DROPKEY_CACHE, else `~/.cache/dropkey_lib`.

The first load decodes the source into one uint8 tensor file in the cache folder, named after the source's path,
size and modification time (a changed source is decoded again) and written atomically, so an interrupted run
leaves no half-written file. Later loads just read that file.

Shapes: images are uint8 (N, 3, 32, 32) with values 0..255, labels int64 (N,) indexing `CLASSES`. They stay
uint8 in memory (the training set is 150 MB, a quarter of its float32 size); `batches.augment_batch` and
`to_float` turn one batch at a time into float32 in [0, 1]. The model's normalisation constants are
`vit.CIFAR10_MEAN` and `vit.CIFAR10_STD`.

The package also carries a small sample (`load_sample`): 500 training and 50 test images per class, for quick
runs and offline tests. Results on it are not comparable with CIFAR-10 results, so using it always warns.
"""

from __future__ import annotations

import ctypes
import gzip
import hashlib
import io
import mmap
import os
import pickle
import tarfile
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from .checks import check_positive_int
from .files import save_torch

CLASSES: tuple[str, ...] = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
IMAGE_SHAPE = (3, 32, 32)
SPLITS = ("train", "test")

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
TORCHVISION_FOLDER = "cifar-10-batches-py"
TORCHVISION_ARCHIVE = "cifar-10-python.tar.gz"
IMAGE_FOLDER = "cifar10-jpeg"
IMAGE_ARCHIVE = "cifar10-jpeg.tar.gz"
PICKLE_FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
PICKLE_NAMES = PICKLE_FILES["train"] + PICKLE_FILES["test"]
SAMPLE_PATH = Path(__file__).resolve().parent / "assets" / "cifar10-sample.tar.gz"

# Bump when the cache file's contents change, so that old cache files are not read.
CACHE_VERSION = 1


class DataNotFoundError(FileNotFoundError):
    """No CIFAR-10 where we looked; the message lists every place and how to provide the data."""


class DataFormatError(ValueError):
    """A CIFAR-10 source exists but is not what we expect (corrupt archive, wrong folder names, bad images)."""


class SampleDataWarning(UserWarning):
    """Warned whenever the bundled sample is used instead of the full data set."""


@dataclass
class CIFAR10Data:
    """CIFAR-10 in memory.

    train_images: (N_train, 3, 32, 32) uint8    train_labels: (N_train,) int64 in [0, 10)
    test_images:  (N_test, 3, 32, 32) uint8     test_labels:  (N_test,) int64 in [0, 10)
    source: where it came from, in words. is_sample: True for the bundled sample, which is not the full data set.
    """

    train_images: Tensor = field(repr=False)
    train_labels: Tensor = field(repr=False)
    test_images: Tensor = field(repr=False)
    test_labels: Tensor = field(repr=False)
    source: str
    is_sample: bool = False

    def __post_init__(self) -> None:
        for split in SPLITS:
            images, labels = getattr(self, f"{split}_images"), getattr(self, f"{split}_labels")
            if images.dtype != torch.uint8 or images.shape[1:] != IMAGE_SHAPE:
                raise ValueError(
                    f"{split}_images must be uint8 (N, 3, 32, 32), got {images.dtype} {tuple(images.shape)}"
                )
            if labels.dtype != torch.int64 or labels.shape != images.shape[:1]:
                raise ValueError(
                    f"{split}_labels must be int64 ({len(images)},), got {labels.dtype} {tuple(labels.shape)}"
                )


# --------------------------------------------------------------------------------------------------------------
# Finding the data


def default_cache_dir() -> Path:
    """The cache folder: DROPKEY_CACHE if set, else ~/.cache/dropkey_lib."""
    return Path(os.environ.get("DROPKEY_CACHE") or Path.home() / ".cache" / "dropkey_lib").expanduser()


def cache_candidates(folder: Path) -> list[Path]:
    """The places looked at inside `folder`, in order: torchvision's folder and archive, then the image-folder copy."""
    return [folder / TORCHVISION_FOLDER, folder / TORCHVISION_ARCHIVE, folder / IMAGE_FOLDER, folder / IMAGE_ARCHIVE]


def is_torchvision_folder(path: Path) -> bool:
    """True for a folder holding torchvision's pickled batches (a `cifar-10-batches-py` folder)."""
    return (path / PICKLE_FILES["train"][0]).is_file()


def is_image_folder(path: Path) -> bool:
    """True for a folder with a train/ or test/ subfolder: an image-folder tree (checked in full when read)."""
    return any((path / split).is_dir() for split in SPLITS)


def resolve_explicit(path: Path, origin: str) -> Path:
    """The file or folder to read for an explicit path: the path itself, or the CIFAR-10 found directly inside it.

    `origin` says where the path came from ("data=" or "DROPKEY_DATA"), for the error message.
    """
    if not path.exists():
        raise DataNotFoundError(f"CIFAR-10 path {path} (given by {origin}) does not exist")
    if path.is_file() or is_torchvision_folder(path) or is_image_folder(path):
        return path
    for candidate in cache_candidates(path):
        if candidate.exists():
            return candidate
    raise DataFormatError(
        f"{path} is a folder but holds no CIFAR-10: expected torchvision's data_batch_1..5 and test_batch, "
        f"train/<class>/ and test/<class>/ image folders, or one of {', '.join(c.name for c in cache_candidates(path))}"
    )


def download_cifar10(cache_dir: str | os.PathLike | None = None) -> Path:
    """Download and extract the original CIFAR-10 archive with torchvision; return the `cifar-10-batches-py` folder."""
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import download_and_extract_archive

    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    download_and_extract_archive(CIFAR10.url, folder, filename=CIFAR10.filename, md5=CIFAR10.tgz_md5)
    return folder / TORCHVISION_FOLDER


def not_found_message(looked: list[str], cache: Path) -> str:
    """The DataNotFoundError message: every place looked, then the ways to provide the data."""
    return "\n".join(
        [
            "CIFAR-10 was not found. Looked in:",
            *(f"  - {place}" for place in looked),
            "Provide it in one of these ways:",
            f"  - download {CIFAR10_URL} and put it in {cache} (as it is, or extracted to {TORCHVISION_FOLDER}/);",
            "  - point at a copy with --data PATH or DROPKEY_DATA=PATH: a cifar-10-batches-py folder or its .tar.gz,",
            "    or an image-folder tree train/<class>/*, test/<class>/* or a .tar.gz of one;",
            "  - use --quick to run on the small sample bundled with the package",
            "    (not comparable with CIFAR-10 results).",
        ]
    )


def search_cache(cache: Path, download: bool) -> Path:
    """The file or folder to read when no explicit path is given: the first of `cache_candidates`, else a download.

    Raises DataNotFoundError listing every place looked when nothing is found and the download is off or fails.
    """
    candidates = cache_candidates(cache)
    for candidate in candidates:
        if candidate.exists():
            return candidate
    looked = [str(c) for c in candidates]
    if not download:
        raise DataNotFoundError(
            not_found_message([*looked, f"download from {CIFAR10_URL}: off (download=False)"], cache)
        )
    try:
        return download_cifar10(cache)
    except (OSError, RuntimeError) as error:
        failed = f"download from {CIFAR10_URL}: failed ({type(error).__name__}: {error})"
        raise DataNotFoundError(not_found_message([*looked, failed], cache)) from error


# --------------------------------------------------------------------------------------------------------------
# Decoding


def decode_image(data: bytes, name: str) -> np.ndarray:
    """One encoded image file (JPEG, PNG, ...) -> (32, 32, 3) uint8 RGB. `name` is only for error messages."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            pixels = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    except (OSError, ValueError, SyntaxError) as error:
        raise DataFormatError(f"{name} is not a readable image ({error})") from None
    if pixels.shape != (32, 32, 3):
        raise DataFormatError(f"{name} is {pixels.shape[1]}x{pixels.shape[0]} pixels, expected 32x32")
    return pixels


def image_member(parts: tuple[str, ...], where: str) -> tuple[str, int] | None:
    """(split, label) of the file at path `parts` in an image-folder tree, or None for files outside train/, test/.

    Hidden files and folders (".DS_Store", ".ipynb_checkpoints/") are skipped. Raises DataFormatError for a class
    folder that is not one of `CLASSES`.
    """
    if len(parts) < 3 or parts[-3] not in SPLITS or any(part.startswith(".") for part in parts[-2:]):
        return None
    split, name = parts[-3], parts[-2]
    if name not in CLASSES:
        raise DataFormatError(f"{where}: unexpected class folder {split}/{name}/; expected one of {', '.join(CLASSES)}")
    return split, CLASSES.index(name)


def stack_images(found: dict[str, list[tuple[int, str, np.ndarray]]], where: str) -> dict[str, Tensor]:
    """Per split, (label, file name, pixels) records -> the four tensors, sorted by label then file name."""
    tensors = {}
    for split in SPLITS:
        records = sorted(found[split], key=lambda record: record[:2])
        missing = sorted(set(CLASSES) - {CLASSES[label] for label, _, _ in records})
        if missing:
            raise DataFormatError(
                f"{where}: no images in {', '.join(f'{split}/{name}/' for name in missing)}; expected "
                "train/<class>/ and test/<class>/ folders for all ten classes"
            )
        images = np.empty((len(records), *IMAGE_SHAPE), dtype=np.uint8)  # filled in place: one copy in memory
        for i, (_, _, pixels) in enumerate(records):
            images[i] = pixels.transpose(2, 0, 1)
        tensors[f"{split}_images"] = torch.from_numpy(images)
        tensors[f"{split}_labels"] = torch.tensor([record[0] for record in records], dtype=torch.int64)
    return tensors


def read_pickle_batches(batches: dict[str, bytes], where: str) -> dict[str, Tensor]:
    """torchvision's pickled batches {file name: bytes} -> the four tensors, batches in file order.

    Each batch is a pickled dict with b"data", (N, 3072) uint8 rows of 1024 red, 1024 green and 1024 blue values,
    and b"labels", N ints. Unpickling can run code stored in the file, so read only copies you trust (torchvision
    reads these files the same way).
    """
    tensors = {}
    for split in SPLITS:
        images, labels = [], []
        for name in PICKLE_FILES[split]:
            if name not in batches:
                raise DataFormatError(f"{where}: {name} is missing; expected {', '.join(PICKLE_NAMES)}")
            try:
                entry = pickle.loads(batches[name], encoding="bytes")
                pixels = np.asarray(entry[b"data"], dtype=np.uint8).reshape(-1, *IMAGE_SHAPE)
                label = np.asarray(entry[b"labels"], dtype=np.int64)
            except Exception as error:  # any unpickling or layout failure means the same thing: not a CIFAR batch
                raise DataFormatError(
                    f"{where}: {name} is not a CIFAR-10 batch ({type(error).__name__}: {error})"
                ) from None
            if len(label) != len(pixels) or label.min(initial=0) < 0 or label.max(initial=0) >= len(CLASSES):
                raise DataFormatError(f"{where}: {name} needs one label in 0..9 per image")
            images.append(pixels)
            labels.append(label)
        tensors[f"{split}_images"] = torch.from_numpy(np.concatenate(images))
        tensors[f"{split}_labels"] = torch.from_numpy(np.concatenate(labels))
    return tensors


def read_torchvision_folder(folder: Path) -> dict[str, Tensor]:
    """A `cifar-10-batches-py` folder -> the four tensors."""
    batches = {name: (folder / name).read_bytes() for name in PICKLE_NAMES if (folder / name).is_file()}
    return read_pickle_batches(batches, str(folder))


def read_image_folder(root: Path) -> dict[str, Tensor]:
    """An image-folder tree root/{train,test}/<class>/<image> -> the four tensors."""
    found: dict[str, list] = {split: [] for split in SPLITS}
    for split in SPLITS:
        if not (root / split).is_dir():
            raise DataFormatError(f"{root}: {split}/ is missing; expected train/<class>/ and test/<class>/ folders")
        for path in sorted((root / split).glob("*/*")):
            member = image_member(path.relative_to(root).parts, str(root))
            if member is not None and path.is_file():
                found[split].append((member[1], path.name, decode_image(path.read_bytes(), str(path))))
    return stack_images(found, str(root))


def read_archive(path: Path) -> dict[str, Tensor]:
    """A .tar.gz of torchvision's batches or of an image-folder tree -> the four tensors, streamed in one pass."""
    batches: dict[str, bytes] = {}
    found: dict[str, list] = {split: [] for split in SPLITS}
    try:
        # gzip (not tarfile's "r|gz") so that a truncated file raises EOFError instead of looking like a short archive
        with gzip.open(path, "rb") as compressed, tarfile.open(fileobj=compressed, mode="r|") as archive:
            for member in archive:
                if not member.isfile():
                    continue
                parts = Path(member.name).parts
                if parts[-1] in PICKLE_NAMES:
                    batches[parts[-1]] = archive.extractfile(member).read()
                elif (image := image_member(parts, str(path))) is not None:
                    data = archive.extractfile(member).read()
                    found[image[0]].append((image[1], parts[-1], decode_image(data, f"{path}:{member.name}")))
            while compressed.read(1 << 20):  # read to the end, where gzip checks the length and CRC of the data
                pass
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise DataFormatError(
            f"{path} is not a readable .tar.gz ({type(error).__name__}: {error}); it may be truncated by an "
            "interrupted download: delete or replace it"
        ) from None
    if batches:
        return read_pickle_batches(batches, str(path))
    if not any(found.values()):
        raise DataFormatError(
            f"{path} holds no CIFAR-10: expected torchvision's data_batch_1..5 and test_batch, or images under "
            "train/<class>/ and test/<class>/"
        )
    return stack_images(found, str(path))


def decode_source(path: Path) -> dict[str, Tensor]:
    """Any supported file or folder -> {train_images, train_labels, test_images, test_labels}."""
    if path.is_file():
        return read_archive(path)
    if is_torchvision_folder(path) or path.name == TORCHVISION_FOLDER:
        return read_torchvision_folder(path)
    return read_image_folder(path)


# --------------------------------------------------------------------------------------------------------------
# The cache


def source_fingerprint(path: Path) -> str:
    """A hash of the source's resolved path and of the size and modification time of its files."""
    path = path.resolve()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    lines = [f"v{CACHE_VERSION} {path}"]
    for file in files:
        stat = file.stat()
        lines.append(f"{file.relative_to(path)} {stat.st_size} {stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:20]


def load_cached(path: Path, cache: Path) -> dict[str, Tensor]:
    """The decoded tensors of the source at `path`, from the cache folder, decoding and caching them first if needed."""
    target = cache / f"cifar10-{source_fingerprint(path)}.pt"
    if target.is_file():
        # Memory-mapped: the pages of an image are read when it is first used, so a notebook that evaluates on the
        # test set and trains on a 1,000-image subset holds a few MB of the 180 MB file, not all of it (Binder: 1 GB).
        return torch.load(target, weights_only=True, mmap=True)
    tensors = decode_source(path)
    save_torch(tensors, target)  # atomic: an interrupted write leaves no file behind
    return tensors


# --------------------------------------------------------------------------------------------------------------
# Loading


def sample_data(cache: Path, reason: str) -> CIFAR10Data:
    """The bundled sample, with a loud SampleDataWarning that starts with `reason`."""
    tensors = load_cached(SAMPLE_PATH, cache)
    n_train, n_test = len(tensors["train_labels"]), len(tensors["test_labels"])
    warnings.warn(
        f"{reason}USING THE BUNDLED CIFAR-10 SAMPLE, NOT THE FULL DATA SET: {n_train} training and {n_test} test "
        f"images ({n_train / 50_000:.0%} and {n_test / 10_000:.0%} of CIFAR-10). Accuracies are far lower and not "
        "comparable with CIFAR-10 results.",
        SampleDataWarning,
        stacklevel=3,
    )
    source = f"bundled CIFAR-10 sample ({n_train} train / {n_test} test images) from {SAMPLE_PATH}"
    return CIFAR10Data(**tensors, source=source, is_sample=True)


def load_sample(*, cache_dir: str | os.PathLike | None = None) -> CIFAR10Data:
    """The small CIFAR-10 sample bundled with the package (500 train, 50 test images per class), `is_sample=True`.

    Always warns (SampleDataWarning): results on the sample are not comparable with CIFAR-10 results.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return sample_data(cache, "")


def load_cifar10(
    data: str | os.PathLike | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    download: bool = True,
    sample_fallback: bool = False,
) -> CIFAR10Data:
    """Load CIFAR-10 (50,000 train, 10,000 test images), searching the places listed in the module docstring.

    data: an explicit file or folder (else DROPKEY_DATA). cache_dir: the cache folder (else DROPKEY_CACHE, else
    ~/.cache/dropkey_lib). download: let torchvision download CIFAR-10 into the cache folder when nothing is found.
    sample_fallback: when nothing is found (or the download fails), return the bundled sample with a loud warning
    instead of raising; also on when the environment sets DROPKEY_SAMPLE_FALLBACK=1 (binder/start does, so that a
    Binder image built without CIFAR-10 still runs the training notebooks). An explicit path that does not exist is an
    error even then.

    Raises DataNotFoundError (a FileNotFoundError) listing every place looked, and DataFormatError (a ValueError)
    when a source exists but cannot be read.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if data is not None:
        path = resolve_explicit(Path(data).expanduser(), "data=")
    elif os.environ.get("DROPKEY_DATA"):
        path = resolve_explicit(Path(os.environ["DROPKEY_DATA"]).expanduser(), "DROPKEY_DATA")
    else:
        try:
            path = search_cache(cache, download)
        except DataNotFoundError as error:
            if not (sample_fallback or os.environ.get("DROPKEY_SAMPLE_FALLBACK") == "1"):
                raise
            return sample_data(cache, f"{error}\n\n")
    # The file or folder name only: notebooks print the source, and a committed output must not show a machine's paths.
    return CIFAR10Data(**load_cached(path, cache), source=f"CIFAR-10 ({path.name})")


# --------------------------------------------------------------------------------------------------------------
# Tensors for the model: float conversion (augmentation and batches: `batches.py`)


def check_uint8_images(images: Tensor) -> None:
    """Raise a ValueError naming `images` unless it is a uint8 batch (B, C, H, W)."""
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise ValueError(f"images must be a uint8 tensor (B, C, H, W), got {images.dtype} {tuple(images.shape)}")


def to_float(images: Tensor) -> Tensor:
    """uint8 (B, C, H, W) in 0..255 -> float32 (B, C, H, W) in [0, 1], no augmentation (for evaluation)."""
    check_uint8_images(images)
    return images.float().div_(255)


# --------------------------------------------------------------------------------------------------------------
# Subsets


def subset(images: Tensor, labels: Tensor, size: int | None, seed: int) -> tuple[Tensor, Tensor]:
    """A class-balanced random subset of `size` samples: (images (size, ...), labels (size,)).

    `size=None`, or a size of at least the whole set, returns every sample unchanged. Otherwise every class gets
    size // 10 samples and the first size % 10 classes one more. The samples of each class are drawn from a
    permutation seeded by `seed`, so a smaller subset is contained in a larger one for the same seed. The result
    keeps the original order of the samples.
    """
    if size is None:
        return images, labels
    check_positive_int(size, "size (one sample per class at least)", minimum=len(CLASSES))
    if size >= len(images):
        return images, labels
    counts = torch.bincount(labels, minlength=len(CLASSES))
    per_class = [size // len(CLASSES) + (c < size % len(CLASSES)) for c in range(len(CLASSES))]
    if any(want > have for want, have in zip(per_class, counts.tolist())):
        raise ValueError(
            f"size={size} needs {max(per_class)} samples of some class, but the smallest class has "
            f"{int(counts.min())} (data set of {len(labels)})"
        )
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for label, want in enumerate(per_class):
        members = torch.nonzero(labels == label).flatten()
        chosen.append(members[torch.randperm(len(members), generator=generator)[:want]])
    index = torch.cat(chosen).sort().values
    return gather_rows(images, index), labels[index]


MADV_PAGEOUT = 21  # Linux 5.4+: reclaim these pages now (a file's pages are read again when next used)


def is_file_backed(tensor: Tensor) -> bool:
    """Whether `tensor`'s memory is part of a memory-mapped file (Linux, from /proc/self/maps; False elsewhere)."""
    address = tensor.data_ptr()
    try:
        mappings = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return False
    for line in mappings:
        fields = line.split(maxsplit=5)  # address range, permissions, offset, device, inode, path
        start, stop = (int(bound, 16) for bound in fields[0].split("-"))
        if start <= address < stop:
            return len(fields) == 6 and fields[4] != "0" and fields[5].startswith("/")
    return False


def release_file_pages(tensor: Tensor, start: int, stop: int) -> bool:
    """Tell the kernel it may reclaim the whole pages in bytes [start, stop) of a file-backed `tensor` now.

    Only a hint: the data stay valid, a page is read from the file again when next used. Returns whether the kernel
    took it; kernels before 5.4 refuse (the pages then stay until memory runs short, as without this call).
    """
    first = -(-(tensor.data_ptr() + start) // mmap.PAGESIZE) * mmap.PAGESIZE  # whole pages only
    last = (tensor.data_ptr() + stop) // mmap.PAGESIZE * mmap.PAGESIZE
    if last <= first:
        return True
    return ctypes.CDLL(None).madvise(ctypes.c_void_p(first), ctypes.c_size_t(last - first), MADV_PAGEOUT) == 0


def gather_rows(images: Tensor, index: Tensor, chunk_bytes: int = 4 << 20) -> Tensor:
    """`images[index]` for a sorted `index`; from a memory-mapped file, a few MB at a time, releasing each part.

    Why: `load_cached` memory-maps the cache file. Reading one image in twelve (a 4,000-image subset) touches few
    pages, but Linux reads the neighbours of every page it faults in, so almost the whole 150 MB training set would
    stay resident and count against the kernel's memory (Binder: 1 GB). Releasing each part of the file once its
    rows are copied keeps one part resident. Pages that another process maps as well (a second kernel reading the
    same cache) stay resident: the kernel releases only pages this process alone maps. Tensors in ordinary memory
    are indexed directly.
    """
    if len(index) == 0 or not images.is_contiguous() or not is_file_backed(images):
        return images[index]
    rows = images.new_empty((len(index), *images.shape[1:]))
    row_bytes = images[0].numel() * images.element_size()
    per_part = max(1, chunk_bytes // row_bytes)
    for start in range(0, len(images), per_part):
        stop = min(start + per_part, len(images))
        first, last = torch.searchsorted(index, torch.tensor([start, stop])).tolist()
        if last > first:
            torch.index_select(images, 0, index[first:last], out=rows[first:last])
        release_file_pages(images, start * row_bytes, stop * row_bytes)
    return rows


# --------------------------------------------------------------------------------------------------------------
# Command line: fetch and decode CIFAR-10 ahead of time (Binder's postBuild runs this)


def main(argv: list[str] | None = None) -> int:
    """`python -m dropkey_lib.data [--data PATH] [--cache-dir DIR] [--no-download]`.

    Finds CIFAR-10 (or downloads it into the cache folder), decodes it into the cache so that later loads are fast,
    and prints where it came from, the cache folder and the shapes. Exits with 1 and the reason (every place looked,
    and how to provide the data) when it cannot.
    """
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m dropkey_lib.data",
        description="Find or download CIFAR-10 and decode it into the cache folder that dropkey_lib reads.",
    )
    parser.add_argument(
        "--data",
        metavar="PATH",
        help="a CIFAR-10 copy to use (default: DROPKEY_DATA, else the cache folder, else a download)",
    )
    parser.add_argument(
        "--cache-dir", metavar="DIR", help="the cache folder (default: DROPKEY_CACHE, else ~/.cache/dropkey_lib)"
    )
    parser.add_argument("--no-download", action="store_true", help="fail instead of downloading when no copy is found")
    args = parser.parse_args(argv)
    cache = Path(args.cache_dir).expanduser() if args.cache_dir else default_cache_dir()
    try:
        loaded = load_cifar10(args.data, cache_dir=cache, download=not args.no_download)
    except (DataNotFoundError, DataFormatError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(loaded.source)
    print(f"cache folder: {cache}")
    for split in SPLITS:
        images, labels = getattr(loaded, f"{split}_images"), getattr(loaded, f"{split}_labels")
        dtype = str(images.dtype).removeprefix("torch.")
        print(f"{split}: images {tuple(images.shape)} {dtype}, labels {tuple(labels.shape)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
