"""Tests for dropkey_lib.data: finding, decoding and caching CIFAR-10, the bundled sample, float conversion, subsets.

Every test runs offline on tiny synthetic copies of the three layouts (torchvision's pickles, an image-folder tree,
a .tar.gz of either), with DROPKEY_CACHE pointing into tmp_path and the download replaced by one that fails as it
would without a network. Only `test_real_data_set` reads the real data set, from DROPKEY_DATA when it is set.
"""

from __future__ import annotations

import os
import pickle
import re
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import Tensor

from dropkey_lib import data
from dropkey_lib.data import CLASSES, DataFormatError, DataNotFoundError, SampleDataWarning

REAL_DATA = os.environ.get("DROPKEY_DATA")
REAL_CACHE = data.default_cache_dir()
N_TRAIN_PER_CLASS = 2  # image-folder fixtures: 2 training images and 1 test image per class
N_PICKLE_BATCH = 10  # torchvision fixtures: 10 images in every batch file, one per class


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """A private cache folder, no DROPKEY_DATA, and a download that fails like one without a network."""
    monkeypatch.setenv("DROPKEY_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DROPKEY_DATA", raising=False)

    def no_network(cache_dir=None):
        raise urllib.error.URLError("no network in the tests")

    monkeypatch.setattr(data, "download_cifar10", no_network)


def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def make_image_tree(root: Path) -> Path:
    """train/<class>/000i.png (2 per class) and test/<class>/0000.png; every pixel of image i of label y is 10*y + i."""
    for split, count in (("train", N_TRAIN_PER_CLASS), ("test", 1)):
        for label, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = np.full((32, 32, 3), 10 * label + i, dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i:04d}.png")
    return root


def make_tar(source: Path, archive: Path) -> Path:
    """A .tar.gz holding the contents of `source` at its top level (like the real archives)."""
    with tarfile.open(archive, "w:gz") as tar:
        for child in sorted(source.iterdir()):
            tar.add(child, arcname=child.name)
    return archive


def make_torchvision_folder(folder: Path) -> Path:
    """Fake data_batch_1..5 and test_batch: labels 9, 8, ..., 0; pixels of image j of batch b are 10*b + j."""
    folder.mkdir(parents=True)
    for b, name in enumerate(data.PICKLE_NAMES):
        pixels = np.repeat(10 * b + np.arange(N_PICKLE_BATCH, dtype=np.uint8), 3072).reshape(N_PICKLE_BATCH, 3072)
        entry = {b"data": pixels, b"labels": list(range(N_PICKLE_BATCH - 1, -1, -1))}
        (folder / name).write_bytes(pickle.dumps(entry))
    return folder


def count_decodes(monkeypatch) -> list[str]:
    """Record the name of every image that `decode_image` decodes."""
    calls: list[str] = []
    real = data.decode_image

    def counting(blob: bytes, name: str) -> np.ndarray:
        calls.append(name)
        return real(blob, name)

    monkeypatch.setattr(data, "decode_image", counting)
    return calls


def check_image_tree_data(loaded: data.CIFAR10Data) -> None:
    """`loaded` is exactly the `make_image_tree` fixture, in class order then file order."""
    assert loaded.train_images.shape == (10 * N_TRAIN_PER_CLASS, 3, 32, 32)
    assert loaded.test_images.shape == (10, 3, 32, 32)
    assert loaded.train_images.dtype == loaded.test_images.dtype == torch.uint8
    assert loaded.train_labels.dtype == loaded.test_labels.dtype == torch.int64
    assert loaded.train_labels.tolist() == [y for y in range(10) for _ in range(N_TRAIN_PER_CLASS)]
    assert loaded.test_labels.tolist() == list(range(10))
    assert loaded.train_images[:, :, 5, 7].tolist() == [[10 * y + i] * 3 for y in range(10) for i in range(2)]
    assert loaded.test_images[:, 2, 0, 0].tolist() == [10 * y for y in range(10)]
    assert not loaded.is_sample


# --------------------------------------------------------------------------------------------------------------
# Sources


def test_image_folder_loads_with_class_order(tmp_path):
    check_image_tree_data(data.load_cifar10(make_image_tree(tmp_path / "tree")))


def test_image_archive_loads_like_the_folder(tmp_path):
    archive = make_tar(make_image_tree(tmp_path / "tree"), tmp_path / "images.tar.gz")
    loaded = data.load_cifar10(archive)
    check_image_tree_data(loaded)
    assert archive.name in loaded.source and str(archive.parent) not in loaded.source


def test_image_archive_with_a_top_folder_loads(tmp_path):
    make_image_tree(tmp_path / "outer" / "cifar10")
    check_image_tree_data(data.load_cifar10(make_tar(tmp_path / "outer", tmp_path / "images.tar.gz")))


def test_torchvision_folder_loads_batches_in_order(tmp_path):
    loaded = data.load_cifar10(make_torchvision_folder(tmp_path / "cifar-10-batches-py"))
    assert loaded.train_images.shape == (50, 3, 32, 32) and loaded.test_images.shape == (10, 3, 32, 32)
    assert loaded.train_images.dtype == torch.uint8 and loaded.train_labels.dtype == torch.int64
    assert loaded.train_images[:, 1, 3, 4].tolist() == [10 * b + j for b in range(5) for j in range(10)]
    assert loaded.train_labels.tolist() == list(range(9, -1, -1)) * 5
    assert loaded.test_images[:, 0, 0, 0].tolist() == [50 + j for j in range(10)]


@pytest.mark.parametrize("form", ["parent folder", "archive"])
def test_torchvision_parent_folder_and_archive_load(tmp_path, form):
    folder = make_torchvision_folder(tmp_path / "parent" / "cifar-10-batches-py")
    path = folder.parent if form == "parent folder" else make_tar(folder.parent, tmp_path / "cifar-10-python.tar.gz")
    loaded = data.load_cifar10(path)
    assert loaded.train_labels.tolist() == list(range(9, -1, -1)) * 5
    assert loaded.test_images[:, 0, 0, 0].tolist() == [50 + j for j in range(10)]


# --------------------------------------------------------------------------------------------------------------
# Search order


def test_torchvision_folder_in_cache_is_found(tmp_path):
    make_torchvision_folder(cache_dir(tmp_path) / "cifar-10-batches-py")
    loaded = data.load_cifar10()
    assert len(loaded.train_labels) == 50
    assert "cifar-10-batches-py" in loaded.source


def test_image_archive_in_cache_is_found(tmp_path):
    cache_dir(tmp_path).mkdir()
    make_tar(make_image_tree(tmp_path / "tree"), cache_dir(tmp_path) / "cifar10-jpeg.tar.gz")
    check_image_tree_data(data.load_cifar10())


def test_torchvision_layout_comes_before_image_folder_in_cache(tmp_path):
    make_torchvision_folder(cache_dir(tmp_path) / "cifar-10-batches-py")
    make_tar(make_image_tree(tmp_path / "tree"), cache_dir(tmp_path) / "cifar10-jpeg.tar.gz")
    assert len(data.load_cifar10().train_labels) == 50


def test_explicit_path_beats_cache(tmp_path):
    make_torchvision_folder(cache_dir(tmp_path) / "cifar-10-batches-py")
    check_image_tree_data(data.load_cifar10(make_image_tree(tmp_path / "tree")))


def test_env_var_is_used_and_argument_beats_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DROPKEY_DATA", str(make_image_tree(tmp_path / "tree")))
    check_image_tree_data(data.load_cifar10())
    assert len(data.load_cifar10(make_torchvision_folder(tmp_path / "batches")).train_labels) == 50


def test_download_is_tried_when_nothing_is_local(tmp_path, monkeypatch):
    def fake_download(cache_dir=None):
        return make_torchvision_folder(Path(cache_dir) / "cifar-10-batches-py")

    monkeypatch.setattr(data, "download_cifar10", fake_download)
    assert len(data.load_cifar10().train_labels) == 50


def test_download_false_does_not_download(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "download_cifar10", lambda cache_dir=None: pytest.fail("download was called"))
    with pytest.raises(DataNotFoundError, match="download=False"):
        data.load_cifar10(download=False)


# --------------------------------------------------------------------------------------------------------------
# The decoded cache


def test_second_load_reads_the_cache(tmp_path, monkeypatch):
    tree = make_image_tree(tmp_path / "tree")
    first = data.load_cifar10(tree)
    decodes = count_decodes(monkeypatch)
    second = data.load_cifar10(tree)
    assert decodes == []
    assert torch.equal(first.train_images, second.train_images) and torch.equal(first.test_labels, second.test_labels)
    assert len(list(cache_dir(tmp_path).glob("cifar10-*.pt"))) == 1


def test_changed_source_is_decoded_again(tmp_path, monkeypatch):
    archive = make_tar(make_image_tree(tmp_path / "tree"), tmp_path / "images.tar.gz")
    data.load_cifar10(archive)
    os.utime(archive, ns=(0, archive.stat().st_mtime_ns + 10**9))
    decodes = count_decodes(monkeypatch)
    data.load_cifar10(archive)
    assert len(decodes) == 30
    assert len(list(cache_dir(tmp_path).glob("cifar10-*.pt"))) == 2


def test_failed_decoding_leaves_nothing_in_cache(tmp_path, monkeypatch):
    archive = make_tar(make_image_tree(tmp_path / "tree"), tmp_path / "images.tar.gz")
    real, calls = data.decode_image, []

    def fail_midway(blob: bytes, name: str) -> np.ndarray:
        calls.append(name)
        if len(calls) == 12:
            raise KeyboardInterrupt  # an interrupted conversion
        return real(blob, name)

    monkeypatch.setattr(data, "decode_image", fail_midway)
    with pytest.raises(KeyboardInterrupt):
        data.load_cifar10(archive)
    assert not cache_dir(tmp_path).exists() or list(cache_dir(tmp_path).iterdir()) == []


def test_failed_cache_write_leaves_no_file(tmp_path, monkeypatch):
    def write_half_then_fail(obj, file):
        Path(file).write_bytes(b"half a tensor file")
        raise OSError("disk full")

    monkeypatch.setattr(data.torch, "save", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        data.load_cifar10(make_image_tree(tmp_path / "tree"))
    assert list(cache_dir(tmp_path).iterdir()) == []


# --------------------------------------------------------------------------------------------------------------
# Errors


def test_missing_data_lists_every_place_looked(tmp_path):
    with pytest.raises(DataNotFoundError) as raised:
        data.load_cifar10()
    message = str(raised.value)
    for place in data.cache_candidates(cache_dir(tmp_path)):
        assert str(place) in message
    for hint in (data.CIFAR10_URL, "no network in the tests", "--data PATH", "DROPKEY_DATA=PATH", "--quick"):
        assert hint in message
    assert isinstance(raised.value, FileNotFoundError)


def test_missing_explicit_path_is_named_even_with_sample_fallback(tmp_path):
    missing = tmp_path / "nowhere" / "cifar.tar.gz"
    with pytest.raises(DataNotFoundError, match="nowhere"):
        data.load_cifar10(missing, sample_fallback=True)


@pytest.mark.parametrize("damage", ["cut at 30%", "cut at 60%", "cut at 90%", "last bytes cut", "not gzip"])
def test_corrupt_archive_raises_format_error(tmp_path, damage):
    archive = make_tar(make_image_tree(tmp_path / "tree"), tmp_path / "images.tar.gz")
    blob = archive.read_bytes()
    cuts = {"cut at 30%": len(blob) * 3 // 10, "cut at 60%": len(blob) * 6 // 10, "cut at 90%": len(blob) * 9 // 10}
    cuts["last bytes cut"] = len(blob) - 4  # only gzip's length field is missing: every image is still there
    archive.write_bytes(blob[: cuts[damage]] if damage in cuts else b"this is not a tar.gz" * 100)
    with pytest.raises(DataFormatError, match="images.tar.gz is not a readable .tar.gz") as raised:
        data.load_cifar10(archive)
    assert isinstance(raised.value, ValueError)
    assert not cache_dir(tmp_path).exists() or list(cache_dir(tmp_path).iterdir()) == []


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("rename a class folder", "unexpected class folder train/kitten/"),
        ("remove test/", "test/ is missing"),
        ("remove a class folder", "no images in test/ship/"),
    ],
)
def test_unexpected_folder_names_raise_format_error(tmp_path, damage, expected):
    tree = make_image_tree(tmp_path / "tree")
    if damage == "rename a class folder":
        (tree / "train" / "cat").rename(tree / "train" / "kitten")
    else:
        folder = tree / "test" if damage == "remove test/" else tree / "test" / "ship"
        for image in folder.rglob("*.png"):
            image.unlink()
        for sub in sorted(folder.rglob("*"), reverse=True):
            sub.rmdir()
        folder.rmdir()
    with pytest.raises(DataFormatError, match=expected):
        data.load_cifar10(tree)


def test_unreadable_image_is_named(tmp_path):
    tree = make_image_tree(tmp_path / "tree")
    (tree / "train" / "dog" / "0001.png").write_bytes(b"not an image")
    with pytest.raises(DataFormatError, match=r"dog/0001.png is not a readable image"):
        data.load_cifar10(tree)


def test_folder_without_cifar_is_format_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match="holds no CIFAR-10"):
        data.load_cifar10(tmp_path / "empty")


# --------------------------------------------------------------------------------------------------------------
# The bundled sample


@pytest.fixture(scope="module")
def sample_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sample_cache")


def test_sample_loads_with_a_loud_warning(sample_cache):
    with pytest.warns(SampleDataWarning, match="BUNDLED CIFAR-10 SAMPLE, NOT THE FULL DATA SET"):
        sample = data.load_sample(cache_dir=sample_cache)
    assert sample.is_sample and "sample" in sample.source
    assert sample.train_images.shape == (5000, 3, 32, 32) and sample.train_images.dtype == torch.uint8
    assert sample.test_images.shape == (500, 3, 32, 32)
    assert torch.bincount(sample.train_labels).tolist() == [500] * 10
    assert torch.bincount(sample.test_labels).tolist() == [50] * 10


def test_sample_fits_the_size_budget():
    assert data.SAMPLE_PATH.stat().st_size <= 2_000_000


def test_sample_fallback_when_nothing_is_found(sample_cache):
    with pytest.warns(SampleDataWarning, match="(?s)CIFAR-10 was not found.*BUNDLED CIFAR-10 SAMPLE"):
        sample = data.load_cifar10(cache_dir=sample_cache, sample_fallback=True)
    assert sample.is_sample and len(sample.train_labels) == 5000


def test_environment_turns_the_sample_fallback_on(sample_cache, monkeypatch):
    monkeypatch.setenv("DROPKEY_SAMPLE_FALLBACK", "1")  # what binder/start sets
    with pytest.warns(SampleDataWarning, match="BUNDLED CIFAR-10 SAMPLE"):
        sample = data.load_cifar10(cache_dir=sample_cache, download=False)
    assert sample.is_sample
    monkeypatch.setenv("DROPKEY_SAMPLE_FALLBACK", "0")
    with pytest.raises(DataNotFoundError):
        data.load_cifar10(cache_dir=sample_cache, download=False)


# --------------------------------------------------------------------------------------------------------------
# Float conversion


def random_images(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(1, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def test_to_float_scales_without_augmenting():
    images = random_images(4)
    assert torch.equal(data.to_float(images), images.float() / 255)
    with pytest.raises(ValueError, match="images must be a uint8"):
        data.to_float(images.float())


# --------------------------------------------------------------------------------------------------------------
# Subsets


def test_subset_is_balanced_deterministic_and_nested():
    labels = torch.arange(200) % 10
    images = random_images(200)
    small_images, small_labels = data.subset(images, labels, 35, seed=1)
    assert torch.bincount(small_labels).tolist() == [4] * 5 + [3] * 5
    again_images, _ = data.subset(images, labels, 35, seed=1)
    assert torch.equal(small_images, again_images)
    assert not torch.equal(small_images, data.subset(images, labels, 35, seed=2)[0])
    large_images, _ = data.subset(images, labels, 100, seed=1)
    assert {tuple(x.flatten()[:8].tolist()) for x in small_images} <= {
        tuple(x.flatten()[:8].tolist()) for x in large_images
    }


def test_subset_of_none_or_at_least_everything_is_the_whole_set():
    images, labels = random_images(200), torch.arange(200) % 10
    for size in (None, 200, 201):
        got_images, got_labels = data.subset(images, labels, size, seed=0)
        assert torch.equal(got_images, images) and torch.equal(got_labels, labels)


def test_subset_rejects_a_size_a_class_cannot_fill():
    labels = torch.cat([torch.zeros(100, dtype=torch.long), torch.arange(1, 10).repeat(5)])
    with pytest.raises(ValueError, match="size"):
        data.subset(random_images(len(labels)), labels, 100, seed=0)


@pytest.mark.parametrize("size", [9, 2.5, True])
def test_subset_rejects_bad_sizes(size):
    with pytest.raises(ValueError, match="size"):
        data.subset(random_images(200), torch.arange(200) % 10, size, seed=0)


def memory_mapped(images: Tensor, folder: Path) -> Tensor:
    """`images` saved to a file and loaded back memory-mapped, as `load_cached` loads the cache."""
    torch.save(images, folder / "images.pt")
    # Written to disk first, as the cache file is long before it is read: the kernel reclaims clean pages only.
    descriptor = os.open(folder / "images.pt", os.O_RDONLY)
    os.fsync(descriptor)
    os.close(descriptor)
    return torch.load(folder / "images.pt", weights_only=True, mmap=True)


def resident_kb(tensor: Tensor) -> int:
    """Resident memory (kB) of the mapping that holds `tensor`, from /proc/self/smaps."""
    address, inside = tensor.data_ptr(), False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            start, stop = (int(bound, 16) for bound in line.split()[0].split("-"))
            inside = start <= address < stop
        elif inside and line.startswith("Rss:"):
            return int(line.split()[1])
    raise AssertionError("no mapping holds the tensor")


linux_only = pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc/self/maps (Linux)")


@linux_only
def test_a_memory_mapped_tensor_is_file_backed_and_one_in_memory_is_not(tmp_path):
    images = random_images(64)
    assert data.is_file_backed(memory_mapped(images, tmp_path)) and not data.is_file_backed(images)


@linux_only
def test_gathering_rows_of_a_memory_mapped_tensor_part_by_part_equals_indexing(tmp_path):
    images = random_images(300)
    mapped = memory_mapped(images, tmp_path)
    index = torch.tensor([0, 1, 2, 50, 51, 170, 298, 299])  # parts without a row, with one, with several
    rows = data.gather_rows(mapped, index, chunk_bytes=20 * 3 * 32 * 32)  # parts of 20 images
    assert torch.equal(rows, images[index]) and torch.equal(mapped, images)


def test_gathering_rows_of_a_tensor_in_memory_is_indexing():
    images = random_images(50)
    index = torch.tensor([3, 7, 49])
    assert torch.equal(data.gather_rows(images, index), images[index])


@linux_only
def test_subset_of_a_memory_mapped_set_equals_the_subset_in_memory(tmp_path):
    images, labels = random_images(400), torch.arange(400) % 10
    got_images, got_labels = data.subset(memory_mapped(images, tmp_path), labels, 120, seed=3)
    want_images, want_labels = data.subset(images, labels, 120, seed=3)
    assert torch.equal(got_images, want_images) and torch.equal(got_labels, want_labels)


@linux_only
def test_gathering_from_a_memory_mapped_file_leaves_at_most_one_part_of_it_resident(tmp_path):
    mapped = memory_mapped(random_images(2_000), tmp_path)  # 6 MB
    mapped.sum()  # every page resident, as after reading the whole file
    if not data.release_file_pages(mapped, 0, mapped.numel()):
        pytest.skip("this kernel has no MADV_PAGEOUT (Linux < 5.4)")
    mapped.sum()
    assert resident_kb(mapped) > 5_000
    data.gather_rows(mapped, torch.arange(0, 2_000, 12), chunk_bytes=1 << 20)
    assert resident_kb(mapped) <= 1_100, "more than one 1 MB part of the file stayed resident"


# --------------------------------------------------------------------------------------------------------------
# The real data set


@pytest.mark.skipif(not REAL_DATA, reason="set DROPKEY_DATA to a copy of CIFAR-10 to test loading the real data set")
def test_real_data_set():
    """Loads DROPKEY_DATA through the user's own cache folder, so only the first run decodes (a few seconds)."""
    loaded = data.load_cifar10(REAL_DATA, cache_dir=REAL_CACHE, download=False)
    assert loaded.train_images.shape == (50_000, 3, 32, 32) and loaded.test_images.shape == (10_000, 3, 32, 32)
    assert torch.bincount(loaded.train_labels).tolist() == [5000] * 10
    assert torch.bincount(loaded.test_labels).tolist() == [1000] * 10
    assert not loaded.is_sample


# --------------------------------------------------------------------------------------------------------------
# The command line (`python -m dropkey_lib.data`, run by Binder's postBuild)


def test_cli_decodes_into_the_cache_and_prints_shapes(tmp_path, monkeypatch, capsys):
    tree = make_image_tree(tmp_path / "tree")
    cache = tmp_path / "cli-cache"
    assert data.main(["--data", str(tree), "--cache-dir", str(cache)]) == 0
    out = capsys.readouterr().out
    assert f"CIFAR-10 ({tree.name})" in out and f"cache folder: {cache}" in out
    assert "train: images (20, 3, 32, 32) uint8, labels (20,)" in out
    assert "test: images (10, 3, 32, 32) uint8, labels (10,)" in out
    assert len(list(cache.glob("cifar10-*.pt"))) == 1
    calls = count_decodes(monkeypatch)  # a later load (what a notebook does) reads the cache, decodes nothing
    check_image_tree_data(data.load_cifar10(tree, cache_dir=cache))
    assert calls == []


def test_cli_finds_the_cache_folder_from_the_environment(tmp_path, monkeypatch, capsys):
    make_torchvision_folder(cache_dir(tmp_path) / data.TORCHVISION_FOLDER)
    assert data.main([]) == 0
    out = capsys.readouterr().out
    assert f"CIFAR-10 ({data.TORCHVISION_FOLDER})" in out and f"cache folder: {cache_dir(tmp_path)}" in out
    assert "train: images (50, 3, 32, 32) uint8, labels (50,)" in out


def test_cli_without_data_exits_1_and_says_why(tmp_path, capsys):
    assert data.main(["--no-download"]) == 1
    err = capsys.readouterr().err
    assert "CIFAR-10 was not found" in err and "download=False" in err and "DROPKEY_DATA" in err
    assert data.main([]) == 1  # the download is tried and fails (no network in the tests)
    assert "download from" in capsys.readouterr().err


def test_cli_runs_as_a_module(tmp_path):
    import subprocess
    import sys

    tree = make_image_tree(tmp_path / "tree")
    env = {**os.environ, "DROPKEY_CACHE": str(tmp_path / "module-cache")}
    ran = subprocess.run(
        [sys.executable, "-m", "dropkey_lib.data", "--data", str(tree)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    assert "test: images (10, 3, 32, 32) uint8" in ran.stdout and str(tmp_path / "module-cache") in ran.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "dropkey_lib.data", "--no-download"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 1 and "CIFAR-10 was not found" in missing.stderr and "Traceback" not in missing.stderr
