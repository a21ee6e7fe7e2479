"""The service's page in a real browser: Debian's chromium, headless, driven by Selenium through
chromedriver, with chromium's fake camera playing a clip made of images/bus.jpg.

The webcam shows the right number of people with stable ids; a photo upload draws them; a
video file (WebM) streams them. A screenshot of each is kept in ``test-artefacts/serve/`` (ignored by git; the folder is
printed). Without chromium only these tests skip, with one line saying how to get it.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

webdriver = pytest.importorskip("selenium.webdriver")
pytest.importorskip("uvicorn")

from posekit.serve.settings import ServeSettings  # noqa: E402

from conftest import IMAGES, ROOT  # noqa: E402
from serve_server import serving  # noqa: E402

WEIGHTS = ROOT / "model_weights" / "mobilenet_thin" / "graph_opt.pb"
BUS = IMAGES / "bus.jpg"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
#: Where the screenshots are kept (POSEKIT_ARTEFACTS overrides).
ARTEFACTS = Path(os.environ.get("POSEKIT_ARTEFACTS", ROOT / "test-artefacts")) / "serve"
pytestmark = [
    pytest.mark.skipif(not (CHROMIUM and DRIVER), reason=(
        "chromium and chromedriver not found: apt-get install chromium chromium-driver "
        "(Debian; `make test` installs them when run as root)")),
    pytest.mark.skipif(not (WEIGHTS.is_file() and BUS.is_file()),
                       reason="weights or sample images missing (make setup)")]
#: The clip's frame size (portrait, as bus.jpg).
CLIP_SIZE = (480, 640)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A 2-second Y4M clip of bus.jpg at 480x640 (the fake camera's input)."""
    import imageio_ffmpeg

    path = tmp_path_factory.mktemp("camera") / "bus.y4m"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-loop", "1",
                    "-i", str(BUS), "-t", "2", "-r", "15", "-vf",
                    f"scale={CLIP_SIZE[0]}:{CLIP_SIZE[1]}", "-pix_fmt", "yuv420p", str(path)],
                   check=True, timeout=120)
    return path


@pytest.fixture(scope="module")
def webm(tmp_path_factory) -> Path:
    """A 2-second WebM (lossless VP9) of bus.jpg at 480x640: a video file to pick on the page
    (lossless: a lossy encoding moves the people at the picture's edges in and out)."""
    import imageio_ffmpeg

    path = tmp_path_factory.mktemp("video") / "bus.webm"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-loop", "1",
                    "-i", str(BUS), "-t", "2", "-r", "10", "-vf",
                    f"scale={CLIP_SIZE[0]}:{CLIP_SIZE[1]}", "-c:v", "libvpx-vp9", "-lossless", "1",
                    "-pix_fmt", "yuv420p", str(path)], check=True, timeout=120)
    return path


@pytest.fixture(scope="module")
def service():
    with serving(ServeSettings(workers=1, queue=4)) as (url, app):
        assert app.state.engine.ready, app.state.engine.error
        yield url, app


@pytest.fixture(scope="module")
def browser(clip):
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1000,1100", "--use-fake-ui-for-media-stream",
                 "--use-fake-device-for-media-stream",
                 f"--use-file-for-fake-video-capture={clip}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_script_timeout(30)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def expected_people(image: np.ndarray) -> int:
    """The number of people the library finds (the service's settings)."""
    from posekit.serve.engine import load_estimator

    return len(load_estimator(ServeSettings())(image).people)


def first_frame(clip: Path) -> np.ndarray:
    """The clip's first frame as the camera gives it, (640, 480, 3) BGR."""
    import imageio_ffmpeg

    raw = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(clip),
                          "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "bgr24", "-"],
                         check=True, capture_output=True, timeout=60).stdout
    return np.frombuffer(raw, np.uint8).reshape(CLIP_SIZE[1], CLIP_SIZE[0], 3)


def state(driver) -> dict:
    return driver.execute_script("return window.posekitState")


def wait_for(driver, check, seconds: float, what: str):
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.2).until(lambda d: check(state(d)))
    except Exception:
        raise AssertionError(f"gave up waiting for {what}: {state(driver)}") from None


def canvas_image(driver) -> np.ndarray:
    data = driver.execute_script(
        "return document.getElementById('canvas').toDataURL('image/png').split(',')[1]")
    return cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR)


def test_the_webcam_shows_the_people_with_stable_ids(service, browser, clip):
    url, app = service
    camera = first_frame(clip)
    expected = expected_people(camera)
    browser.get(url + "/")
    browser.find_element("id", "webcam").click()
    wait_for(browser, lambda s: s["frames"] >= 12, 180, "12 answered camera frames")
    seen = state(browser)
    path = ARTEFACTS / "webcam.png"
    browser.save_screenshot(str(path))
    counts = Counter(seen["counts"])
    print(f"\nscreenshot: {path}; people per frame {dict(counts)}, ids {seen['ids']}, "
          f"library {expected}")
    assert seen["mode"] == "webcam" and seen["errors"] == []
    assert counts.most_common(1)[0][0] == expected >= 3, counts
    people = seen["last"]["people"]
    assert seen["last"]["width"] == CLIP_SIZE[0] and seen["last"]["height"] == CLIP_SIZE[1]
    ids = [p["track_id"] for p in people]
    assert len(set(ids)) == len(ids) and all(i is not None for i in ids)
    assert len(seen["ids"]) <= expected + 1, seen["ids"]     # the same people keep their ids
    shown = browser.find_element("id", "ids").text.split()
    assert sorted(map(int, shown)) == sorted(ids)
    assert float(browser.find_element("id", "fps").text) > 0
    assert float(browser.find_element("id", "latency").text) > 0
    drawn = canvas_image(browser)
    assert drawn.shape[:2] == (CLIP_SIZE[1], CLIP_SIZE[0])
    assert (np.abs(drawn.astype(int) - camera).max(axis=2) > 100).mean() > 0.005  # skeletons
    browser.find_element("id", "stop").click()
    link = browser.find_element("id", "download")
    assert link.get_attribute("href").startswith("blob:")


def test_a_photo_upload_draws_its_people(service, browser):
    url, _ = service
    expected = expected_people(cv2.imread(str(BUS)))
    browser.get(url + "/")
    browser.find_element("id", "file").send_keys(str(BUS))
    wait_for(browser, lambda s: s["photoDone"] or s["errors"], 120, "the photo's answer")
    seen = state(browser)
    path = ARTEFACTS / "photo.png"
    browser.save_screenshot(str(path))
    print(f"\nscreenshot: {path}")
    assert seen["errors"] == [] and seen["photoPeople"] == expected >= 3
    assert browser.find_element("id", "people").text == str(expected)
    drawn = canvas_image(browser)
    plain = cv2.imread(str(BUS))
    assert drawn.shape == plain.shape
    assert (np.abs(drawn.astype(int) - plain).max(axis=2) > 100).mean() > 0.002   # skeletons
    download = browser.execute_script(
        "const a = document.getElementById('download');"
        "return fetch(a.href).then(r => r.json()).then(j => j.people.length);")
    assert download == expected


def test_a_video_file_streams_its_people(service, browser, webm):
    expected = expected_people(first_frame(webm))
    browser.get(service[0] + "/")
    browser.find_element("id", "file").send_keys(str(webm))
    wait_for(browser, lambda s: s["frames"] >= 8 or s["errors"], 180, "8 answered video frames")
    seen = state(browser)
    path = ARTEFACTS / "video.png"
    browser.save_screenshot(str(path))
    counts = Counter(seen["counts"])
    print(f"\nscreenshot: {path}; people per frame {dict(counts)}, ids {seen['ids']}, "
          f"library {expected}")
    assert seen["mode"] == "video" and seen["errors"] == []
    assert counts.most_common(1)[0][0] == expected >= 3, counts
    assert len(seen["ids"]) <= expected + 1, seen["ids"]
