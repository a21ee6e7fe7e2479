"""Tests of posekit.io.images: loading odd images, atomic writes, videos."""

import functools
import os
import re
import struct
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest

from posekit.video.reader import VideoReader

from posekit.io import images as imageio

from conftest import ROOT


# --- normalisation -------------------------------------------------------------------------

def test_bgr8_passes_through_untouched():
    image = np.zeros((9, 8, 3), np.uint8)
    assert imageio.to_bgr8(image) is image


@pytest.mark.parametrize("shape", [(5, 6), (5, 6, 1)])
def test_grey_is_copied_to_three_channels(shape):
    grey = np.arange(30, dtype=np.uint8).reshape(shape)
    out = imageio.to_bgr8(grey)
    assert out.shape == (5, 6, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:, :, 0], grey.reshape(5, 6))
    np.testing.assert_array_equal(out[:, :, 2], grey.reshape(5, 6))


def test_sixteen_bit_is_scaled_to_eight():
    deep = np.array([[0, 257, 32896, 65535]], np.uint16)
    np.testing.assert_array_equal(imageio.to_bgr8(deep)[0, :, 1], [0, 1, 128, 255])


def test_float_is_taken_as_zero_to_one():
    out = imageio.to_bgr8(np.array([[0.0, 0.5, 1.0, 2.0, -1.0, np.nan]], np.float32))
    np.testing.assert_array_equal(out[0, :, 0], [0, 128, 255, 255, 0, 0])


def test_alpha_is_composited_over_mid_grey():
    bgra = np.zeros((1, 3, 4), np.uint8)
    bgra[0, :, :3] = 200
    bgra[0, :, 3] = [255, 0, 51]
    out = imageio.to_bgr8(bgra)
    np.testing.assert_array_equal(out[0, :, 0], [200, 128, round(200 * 0.2 + 128 * 0.8)])
    grey_alpha = np.zeros((1, 1, 2), np.uint16)
    grey_alpha[0, 0] = (65535, 0)
    assert (imageio.to_bgr8(grey_alpha) == 128).all()


@pytest.mark.parametrize("bad, match", [
    (np.zeros((0, 5, 3), np.uint8), "zero dimension"),
    (np.zeros((5, 0), np.uint8), "zero dimension"),
    (np.zeros((4, 4, 5), np.uint8), "layout"),
    (np.zeros((4,), np.uint8), "layout"),
    (np.zeros((4, 4), np.int32), "pixel type"),
])
def test_unusable_arrays_are_rejected(bad, match):
    with pytest.raises(ValueError, match=match):
        imageio.to_bgr8(bad)


# --- reading files -------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["grey", "rgba", "deep16", "grey16", "palette"])
def test_odd_pngs_load_as_8_bit_bgr(odd_pngs, name):
    path, expected = odd_pngs[name]
    image = imageio.read_image(path)
    assert image.dtype == np.uint8 and image.shape == expected.shape
    assert np.abs(image.astype(int) - expected).max() <= 1


def test_palette_png_really_is_a_palette_png(odd_pngs):
    path, _ = odd_pngs["palette"]
    data = path.read_bytes()
    assert data[25] == 3  # IHDR colour type 3: indexed colour
    assert b"PLTE" in data


def _with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """Insert an APP1 Exif segment holding only the orientation tag after SOI."""
    tiff = (b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1)
            + struct.pack("<HHII", 0x0112, 3, 1, orientation) + struct.pack("<I", 0))
    payload = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_exif_orientation_is_applied_like_cv2_imread(tmp_path, orientation):
    image = np.zeros((40, 80, 3), np.uint8)
    image[:20, :40] = 255
    path = tmp_path / "photo.jpg"
    path.write_bytes(_with_exif_orientation(cv2.imencode(".jpg", image)[1].tobytes(),
                                            orientation))
    loaded = imageio.read_image(path)
    np.testing.assert_array_equal(loaded, cv2.imread(str(path)))
    assert loaded.shape[:2] == ((80, 40) if orientation in (6, 8) else (40, 80))


def test_missing_empty_folder_and_text_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        imageio.read_image(tmp_path / "nope.png")
    with pytest.raises(IsADirectoryError):
        imageio.read_image(tmp_path)
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        imageio.read_image(tmp_path / "empty.jpg")
    (tmp_path / "text.jpg").write_text("not a picture\n")
    with pytest.raises(ValueError, match="not an image"):
        imageio.read_image(tmp_path / "text.jpg")


def test_truncated_files_are_rejected_before_any_decoder_prints(tmp_path, small_bus, capfd):
    jpeg = cv2.imencode(".jpg", small_bus)[1].tobytes()
    (tmp_path / "cut.jpg").write_bytes(jpeg[:len(jpeg) // 2])
    with pytest.raises(ValueError, match="truncated"):
        imageio.read_image(tmp_path / "cut.jpg")
    png = cv2.imencode(".png", small_bus)[1].tobytes()
    (tmp_path / "cut.png").write_bytes(png[:len(png) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        imageio.read_image(tmp_path / "cut.png")
    assert capfd.readouterr().err == ""  # refused from their structure: no decoder ran


def test_zero_width_file_is_rejected(tmp_path):
    (tmp_path / "zero.pgm").write_bytes(b"P5\n0 10\n255\n")
    with pytest.raises(ValueError):
        imageio.read_image(tmp_path / "zero.pgm")


def test_fit_max_side():
    image = np.zeros((100, 400, 3), np.uint8)
    same, scale = imageio.fit_max_side(image, 400)
    assert same is image and scale == 1.0
    small, scale = imageio.fit_max_side(image, 200)
    assert small.shape == (50, 200, 3) and scale == 2.0
    assert imageio.fit_max_side(image, None)[0] is image


def test_list_images_by_extension_sorted(tmp_path):
    for name in ("b.PNG", "a.jpg", "notes.txt", ".hidden.jpg", "clip.mp4"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.jpg").mkdir()
    assert [p.name for p in imageio.list_images(tmp_path)] == ["a.jpg", "b.PNG"]
    with pytest.raises(NotADirectoryError):
        imageio.list_images(tmp_path / "a.jpg")


# --- writing -------------------------------------------------------------------------------

def test_atomic_write_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "out.json"
    imageio.write_json(target, {"a": [1, 2]})
    assert target.read_text() == '{"a": [1, 2]}\n'
    assert os.listdir(tmp_path) == ["out.json"]
    mode = target.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


def test_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with imageio.atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.png"]


def test_write_image_by_extension(tmp_path):
    image = np.full((9, 11, 3), 77, np.uint8)
    imageio.write_image(tmp_path / "a.png", image)
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "a.png")), image)
    with pytest.raises(ValueError, match="cannot encode"):
        imageio.write_image(tmp_path / "a.xyz", image)
    assert sorted(os.listdir(tmp_path)) == ["a.png"]


def test_output_checks(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="does not exist"):
        imageio.check_output_file(tmp_path / "missing" / "out.png")
    with pytest.raises(ValueError, match="not a folder"):
        imageio.check_output_file(tmp_path / "file" / "out.png")
    with pytest.raises(ValueError, match="image format"):
        imageio.check_output_file(tmp_path / "out.txt", image=True)
    assert imageio.check_output_folder(tmp_path / "new", missing_ok=True) == tmp_path / "new"
    assert not (tmp_path / "new").exists()           # checking creates nothing
    with pytest.raises(ValueError, match="does not exist"):
        imageio.check_output_folder(tmp_path / "a" / "b", missing_ok=True)
    imageio.make_output_folder(tmp_path / "new")
    assert (tmp_path / "new").is_dir()


# --- video ---------------------------------------------------------------------------------

def _write_video(path, frames, fourcc="mp4v", size=(64, 48)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10, size)
    for k in range(frames):
        writer.write(np.full((size[1], size[0], 3), 20 * k, np.uint8))
    writer.release()


def test_video_round_trip(tmp_path):
    _write_video(tmp_path / "in.mp4", 5)
    with VideoReader(tmp_path / "in.mp4") as reader:
        assert (reader.info.width, reader.info.height) == (64, 48)
        assert reader.info.fps == pytest.approx(10)
        frames = list(reader)
    assert len(frames) == 5 and frames[0].shape == (48, 64, 3)


def test_unreadable_videos(tmp_path):
    (tmp_path / "text.mp4").write_text("not a video")
    with pytest.raises(ValueError, match="cannot open"):
        VideoReader(tmp_path / "text.mp4")
    _write_video(tmp_path / "zero.avi", 0, fourcc="MJPG")
    with pytest.raises(ValueError, match="no frames"):
        VideoReader(tmp_path / "zero.avi")
    with pytest.raises(FileNotFoundError):
        VideoReader(tmp_path / "missing.mp4")


def test_reading_never_redirects_the_process_stderr(tmp_path, small_bus):
    """Another thread's stderr lines all arrive while 4 threads read good, truncated and
    broken files (the library once pointed descriptor 2 at a temporary file)."""
    jpeg = cv2.imencode(".jpg", small_bus)[1].tobytes()
    png = cv2.imencode(".png", small_bus)[1].tobytes()
    (tmp_path / "a.jpg").write_bytes(jpeg)
    (tmp_path / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (tmp_path / "cut.png").write_bytes(png[: len(png) // 2])
    (tmp_path / "x.mp4").write_bytes(b"not a video" * 10)
    script = textwrap.dedent(f"""
        import os, sys, threading
        sys.path.insert(0, {str(ROOT)!r})
        from posekit.io import images as imageio
        before = os.fstat(2).st_ino
        def read():
            for _ in range(25):
                for name in ("a.jpg", "cut.jpg", "cut.png", "x.mp4"):
                    try:
                        imageio.read_image(os.path.join({str(tmp_path)!r}, name))
                    except ValueError:
                        pass
                    try:
                        VideoReader(os.path.join({str(tmp_path)!r}, name)).close()
                    except ValueError:
                        pass
        def talk():
            for k in range(101):
                os.write(2, b"line %d\\n" % k)
        threads = [threading.Thread(target=read) for _ in range(4)] + [threading.Thread(target=talk)]
        for t in threads: t.start()
        for t in threads: t.join()
        assert os.fstat(2).st_ino == before
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert proc.stdout.strip() == "ok", proc.stderr
    # decoder messages may surround a line, but every line arrives whole and in order
    assert re.findall(r"line (\d+)\n", proc.stderr) == [str(k) for k in range(101)]


# --- bounded memory: the pixel limit and banded conversion ---------------------------------

def png_bomb(path, side, colour_type=0):
    """A small PNG of ``side`` x ``side`` zero pixels (grey or, with 6, RGBA), at ``path``."""
    path.write_bytes(_png_bomb_bytes(side, colour_type))
    return path


@functools.lru_cache(maxsize=None)
def _png_bomb_bytes(side, colour_type):
    """The file of :func:`png_bomb`, compressed once per test run (about 5 s at 15000 RGBA)."""
    import zlib

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    per_pixel = {0: 1, 6: 4}[colour_type]
    compressor = zlib.compressobj(9)
    row = b"\x00" + bytes(side * per_pixel)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, colour_type, 0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def test_image_over_the_pixel_limit_is_refused_before_decoding(tmp_path):
    """15000 x 15000 RGBA (once 12.4 GB): refused from the header, in a child limited to 1 GB."""
    import subprocess
    import sys
    import textwrap

    from conftest import ROOT

    bomb = png_bomb(tmp_path / "bomb.png", 15000, colour_type=6)
    assert bomb.stat().st_size < 2_000_000
    code = textwrap.dedent(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        from posekit.io import images as imageio
        try:
            imageio.read_image({str(bomb)!r})
        except ValueError as exc:
            print(exc)
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={"PYTHONPATH": str(ROOT),
                                                       "OPENBLAS_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "too large: 15000x15000 pixels, more than 50,000,000" in proc.stdout


def test_image_just_under_the_limit_is_read(tmp_path):
    side = int(imageio.MAX_IMAGE_PIXELS ** 0.5)               # 7071 x 7071 grey
    image = imageio.read_image(png_bomb(tmp_path / "big.png", side))
    assert image.shape == (side, side, 3) and image.dtype == np.uint8


@pytest.mark.parametrize("shape", [(imageio.CONVERT_PIXELS // 5 * 2 + 17, 5),   # tall: bands
                                   (3, imageio.CONVERT_PIXELS * 2 + 17),       # wide: row pieces
                                   (700, 700)])
def test_blockwise_conversion_equals_whole_image_conversion(shape):
    rng = np.random.default_rng(3)
    deep = rng.integers(0, 65536, size=shape + (4,), dtype=np.uint16)
    out = imageio.to_bgr8(deep)
    unit = deep.astype(np.float32) / 65535.0
    alpha = unit[:, :, 3:]
    expected = np.rint((unit[:, :, :3] * alpha + (128 / 255.0) * (1 - alpha)) * 255).astype(np.uint8)
    np.testing.assert_array_equal(out, expected)
    grey = deep[:, :, 0]
    np.testing.assert_array_equal(imageio.to_bgr8(grey)[:, :, 1],
                                  np.rint(grey / 65535.0 * 255).astype(np.uint8))


@pytest.mark.parametrize("shape", [(3, 1_000_000), (1_000_000, 3), (1733, 1733)])
def test_conversion_memory_is_bounded_by_pixels_whatever_the_shape(shape):
    """A 1,000,000 x 3 image was one band of rows: float copies of all of it (a 16-bit
    RGBA PNG of 1,000,000 x 50 pixels took 3.0 GB to read, a square one of as many
    pixels 0.85 GB). Now the temporaries are bounded by CONVERT_PIXELS (tracemalloc
    sees numpy's allocations)."""
    import tracemalloc

    deep = np.full(shape + (4,), 40000, np.uint16)
    tracemalloc.start()
    try:
        out = imageio.to_bgr8(deep)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.shape == shape + (3,) and out[0, 0, 0] == round(40000 / 65535 * 255 * 40000
                                                                / 65535 + 128 * (1 - 40000 / 65535))
    assert peak < out.nbytes + 80 * imageio.CONVERT_PIXELS, (peak, out.nbytes)


@pytest.mark.parametrize("ext, params", [(".png", []), (".jpg", []), (".gif", []), (".bmp", []),
                                         (".webp", []), (".webp", [cv2.IMWRITE_WEBP_QUALITY, 101])])
def test_header_size_matches_the_decoded_size(tmp_path, ext, params):
    image = (np.random.default_rng(0).random((37, 53, 3)) * 255).astype(np.uint8)
    path = tmp_path / f"h{ext}"
    if not cv2.imwrite(str(path), image, params):
        pytest.skip(f"OpenCV cannot write {ext} here")
    assert imageio.header_size(path) == (53, 37)


def test_header_size_of_unknown_or_cut_files_is_none(tmp_path):
    (tmp_path / "a.txt").write_text("hello")
    assert imageio.header_size(tmp_path / "a.txt") is None
    (tmp_path / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF")
    assert imageio.header_size(tmp_path / "cut.jpg") is None


def test_bomb_is_refused_from_our_header_check_even_after_opencv_loaded(tmp_path):
    """cv2 is already loaded in this process, so only our own header check can refuse it."""
    bomb = png_bomb(tmp_path / "bomb.png", 15000, colour_type=6)
    with pytest.raises(ValueError, match="15000x15000 pixels, more than 50,000,000"):
        imageio.read_image(bomb)


def test_a_fifo_is_not_a_regular_file_not_an_empty_one(tmp_path):
    """A FIFO named in a batch list file is refused as what it is, and never opened."""
    os.mkfifo(tmp_path / "pipe.jpg")
    for reader in (imageio.read_image, VideoReader):
        with pytest.raises(ValueError, match="not a regular file") as info:
            reader(tmp_path / "pipe.jpg")
        assert "empty" not in str(info.value)


@pytest.mark.parametrize("name", ["grey", "rgba", "deep16", "palette"])
def test_reading_without_the_output_array_overload_gives_the_same_image(odd_pngs, name,
                                                                       monkeypatch):
    """OpenCV before 4.10 has no cv2.imread(path, dst, flags): the two-argument form is used
    there (twice the memory at its peak, the same pixels)."""
    path, _ = odd_pngs[name]
    in_place = imageio.read_image(path)
    monkeypatch.setattr(imageio, "_DECODES_IN_PLACE", False)
    np.testing.assert_array_equal(imageio.read_image(path), in_place)
