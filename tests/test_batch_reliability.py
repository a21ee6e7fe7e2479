"""Hostile-user cases of ``python -m posekit.apps.batch`` (issue 20): no wrong output called done,
no file around a run harmed.

CLI cases run the command in a subprocess, as a user does (a local Ray of 2 CPUs
where work is needed), except the clashing-names run, whose outputs are the point:
it calls ``posekit.apps.batch.run.main`` here, on the run's shared local Ray. Special files
are FIFOs and links in a temporary folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path, PurePosixPath

import cv2
import numpy as np
import pytest

from posekit.apps.batch import manifest
from posekit.io.sources import Item, check_distinct_outputs, collect, unique_names

from benchmarks.batch_signals import session_processes, start_time
from conftest import IMAGES, ROOT, wait_for_file, write_clip

WEIGHTS = ROOT / "model_weights" / "mobilenet_thin" / "graph_opt.pb"
needs_network = pytest.mark.skipif(
    not (WEIGHTS.is_file() and (IMAGES / "bus.jpg").is_file()),
    reason="weights or sample images missing (make setup)")
PROG = "posekit-batch: "


def batch(*args, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "posekit.apps.batch.run", *map(str, args),
                           "--num-cpus", "2", "--object-store-mb", "200", "--actors", "1"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def records(out: Path) -> dict:
    return {r["name"]: r for r in json.loads((out / manifest.MANIFEST).read_text())["items"]}


# --- 1. output names unique across every item, frames included ----------------------------

def test_an_image_named_like_a_video_frame_gets_its_own_name(tmp_path):
    for name in ("a.avi", "a/a_000000000000.jpg", "a/A_000000000001.png"):
        (tmp_path / "in" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / name).write_bytes(b"x")
    items = collect([str(tmp_path / "in")], tmp_path / "out")
    names = {Path(i.path).name: i.name for i in items}
    assert names["a.avi"] == "a"
    assert names["a_000000000000.jpg"] == "a/a_000000000000_2"
    assert names["A_000000000001.png"] == "a/A_000000000001_2"        # ignoring case


def test_outputs_that_would_clash_are_refused_before_any_work():
    video = Item(0, "/x/a.avi", "video", "a")
    with pytest.raises(ValueError, match="frame file of the video /x/a.avi"):
        check_distinct_outputs([video, Item(1, "/x/a/a_000000000000.jpg", "image",
                                            "a/a_000000000000")])
    with pytest.raises(ValueError, match="is a folder that"):
        check_distinct_outputs([Item(0, "/x/p.jpg", "image", "p"),
                                Item(1, "/x/q.jpg", "image", "p_keypoints.json/q")])
    check_distinct_outputs([video, Item(1, "/x/a/b.jpg", "image", "a/b")])   # no clash
    assert unique_names([PurePosixPath("v.avi"), PurePosixPath("v/v_000000000007.jpg")],
                        ["video", "image"]) == ["v", "v/v_000000000007_2"]


# --- 5. glob patterns through link loops ---------------------------------------------------

def test_a_glob_through_link_loops_lists_each_real_file_once(tmp_path):
    src = tmp_path / "d"
    (src / "x" / "y").mkdir(parents=True)
    (src / "x" / "y" / "1.jpg").write_bytes(b"x")
    (src / "x" / "2.jpg").write_bytes(b"x")
    (src / "x" / "y" / "up").symlink_to(src / "x")          # loop one
    (src / "x" / "back").symlink_to(src)                     # loop two
    (src / "alias").symlink_to(src / "x" / "y")              # the same tree by another path
    start = time.monotonic()
    items = collect([str(src / "**" / "*.jpg")], tmp_path / "out")
    assert time.monotonic() - start < 10
    assert sorted(os.path.realpath(i.path) for i in items) == sorted(
        str((src / p).resolve()) for p in ("x/y/1.jpg", "x/2.jpg"))


# --- 1 + 2: a real run with a frame-named image and long names ----------------------------

@needs_network
def test_a_run_with_clashing_and_long_names(tmp_path, small_bus, local_ray, capsys):
    src = tmp_path / "in"
    (src / "a").mkdir(parents=True)
    write_clip(src / "a.avi", small_bus, 2)
    cv2.imwrite(str(src / "a" / "a_000000000000.jpg"), np.flip(small_bus, axis=1))
    long_ok = "l" * 221 + ".jpg"                   # 225 characters: the temporary name is cut
    too_long = "m" * 246 + ".jpg"                  # its output name would be 261 bytes
    cv2.imwrite(str(src / long_ok), small_bus)
    (src / too_long).write_bytes((src / long_ok).read_bytes())
    out = tmp_path / "out"
    from posekit.apps.batch.run import main

    status = main([str(src), "-o", str(out), "-q", "--actors", "1"])
    err = capsys.readouterr().err
    assert status == 1 and "Traceback" not in err, err
    got = records(out)
    assert {n: r["status"] for n, r in got.items()} == {
        "a": "done", "a/a_000000000000_2": "done", "l" * 221: "done", "m" * 246: "failed"}
    assert "more than the file system's 255" in got["m" * 246]["error"]
    frame0 = json.loads((out / "a" / "a_000000000000_keypoints.json").read_text())
    image = json.loads((out / "a" / "a_000000000000_2_keypoints.json").read_text())
    assert frame0 != image                         # the flipped image has its own result
    assert (out / ("l" * 221 + "_keypoints.json")).is_file()
    assert not [p for p in out.rglob(".*")]
    # the rerun skips all three done items and fails the long one again
    status = main([str(src), "-o", str(out), "--actors", "1"])
    assert status == 1
    assert "4 items: 0 done, 3 skipped (already complete), 1 failed" in capsys.readouterr().out


# --- 6. special files in the output folder ------------------------------------------------

@needs_network
@pytest.mark.parametrize("case", ["manifest fifo", "manifest link", "journal link"])
def test_record_files_that_are_not_regular_files_are_refused(tmp_path, small_bus, case):
    cv2.imwrite(str(tmp_path / "a.jpg"), small_bus)
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    if case == "manifest fifo":
        os.mkfifo(out / manifest.MANIFEST)
    elif case == "manifest link":
        (out / manifest.MANIFEST).symlink_to(victim)
    else:
        (out / manifest.JOURNAL).symlink_to(victim)
    proc = batch(tmp_path / "a.jpg", "-o", out, cwd=tmp_path, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and lines[0].startswith(PROG + "error:")
    assert "symbolic link, a folder or a special file" in lines[0]
    assert victim.read_text() == "keep me"
    assert sorted(os.listdir(out)) == [manifest.JOURNAL if "journal" in case
                                       else manifest.MANIFEST]


@needs_network
def test_an_output_name_that_is_a_folder_is_one_failed_item(tmp_path, small_bus):
    cv2.imwrite(str(tmp_path / "a.jpg"), small_bus)
    out = tmp_path / "out"
    (out / "a_keypoints.json").mkdir(parents=True)
    proc = batch(tmp_path / "a.jpg", "-o", out, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "skipped: " in proc.stderr and "is a folder, not a file" in proc.stderr
    assert records(out)["a"]["status"] == "failed"
    assert (out / "a_keypoints.json").is_dir()


# --- 7. one run per output folder ----------------------------------------------------------

@needs_network
def test_a_second_run_into_a_locked_folder_is_refused(tmp_path, small_bus):
    cv2.imwrite(str(tmp_path / "a.jpg"), small_bus)
    out = tmp_path / "out"
    out.mkdir()
    (out / manifest.JOURNAL).write_text('{"path": "live"}\n')      # the first run's journal
    with manifest.FolderLock(out):                                   # the first run, alive
        proc = batch(tmp_path / "a.jpg", "-o", out, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (PROG + f"error: another batch run is writing into {out}; "
                                   "wait for it to end or choose another output folder")
    assert sorted(os.listdir(out)) == [manifest.JOURNAL]              # nothing touched
    with manifest.FolderLock(out):                                    # released: free again
        pass


def test_a_lock_held_by_a_killed_process_is_free(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c",
                               "import sys, time; sys.path.insert(0, sys.argv[1]);"
                               "from posekit.apps.batch.manifest import FolderLock;"
                               "lock = FolderLock(__import__('pathlib').Path(sys.argv[2]));"
                               "print('locked', flush=True); time.sleep(60)",
                               str(ROOT), str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(ValueError, match="another batch run"):
        manifest.FolderLock(tmp_path)
    holder.kill()
    holder.wait()
    with manifest.FolderLock(tmp_path):
        pass


# --- 8. SIGTERM to the driver --------------------------------------------------------------

@needs_network
def test_sigterm_writes_the_manifest_and_exits_130(tmp_path, small_bus):
    src = tmp_path / "in"
    src.mkdir()
    write_clip(src / "long.avi", small_bus, 300)      # far more than run before the signal
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "posekit.apps.batch.run", str(src), "-o", str(out),
                             "-q", "--num-cpus", "2", "--object-store-mb", "200",
                             "--actors", "1"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_file(proc, out / "long" / f"long_{1:012d}_keypoints.json", poll=0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == (
        PROG + "interrupted; rerun the same command to finish")
    doc = json.loads((out / manifest.MANIFEST).read_text())
    assert [r["status"] for r in doc["items"]] == ["interrupted"]
    assert not (out / manifest.JOURNAL).exists()


# --- 10. --address where no Ray cluster answers (issue 31) ---------------------------------

@needs_network
@pytest.mark.parametrize("address, reason", [
    ("127.0.0.1:1", "nothing answers there: Connection refused"),
    ("no-such-host.invalid:6379", "the host name does not resolve"),
])
def test_an_address_where_no_cluster_answers_is_one_line(tmp_path, small_bus, address, reason):
    """Before: Ray retried for 590 s (printing its warnings despite -q). The generous
    timeout only keeps a hang from holding the suite."""
    cv2.imwrite(str(tmp_path / "a.jpg"), small_bus)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "posekit.apps.batch.run", str(tmp_path / "a.jpg"),
                           "-o", str(out), "--address", address, "-q"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=240)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert lines[0].startswith(PROG + f"error: cannot join the Ray cluster at {address}")
    assert reason in lines[0]
    assert not out.exists()                                  # refused before any work


def test_a_server_that_is_not_ray_is_refused_within_the_deadline(monkeypatch):
    """A listener on 127.0.0.1 that accepts and never answers (Ray would rewrite 127.0.0.1
    into this machine's outward address; as in tests/test_cluster.py it is kept here)."""
    import socket

    pytest.importorskip("ray")
    from ray._private import services

    from posekit.apps.batch.ray_cluster import check_address

    monkeypatch.setattr(services, "resolve_ip_for_localhost", lambda host: host)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        address = f"127.0.0.1:{server.getsockname()[1]}"
        with pytest.raises(ValueError, match=r"no Ray cluster answered within 1 s"):
            check_address(address, timeout=1.0)
    with pytest.raises(ValueError, match="is not HOST:PORT"):
        check_address("nonsense")


# --- 11. signals during Ray's start-up (issue 31) ------------------------------------------

@needs_network
@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="needs Linux /proc")
@pytest.mark.parametrize("signum, stage", [(signal.SIGTERM, "raylet"),
                                           (signal.SIGINT, "ray::IDLE")])
def test_a_signal_during_rays_start_up_ends_every_process_and_writes_the_manifest(
        tmp_path, small_bus, signum, stage):
    """The command runs in a session of its own; the signal comes once a process named
    ``stage`` runs in it (Ray's start-up: the raylet; the first workers, while the driver
    connects). Before: exit 15 and no manifest, or SIGSEGV / SIGABRT at the exit, and Ray's
    agents running 60 s later. The waits are bounds, not timings."""
    cv2.imwrite(str(tmp_path / "a.jpg"), small_bus)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "posekit.apps.batch.run", str(tmp_path / "a.jpg"),
                             "-o", str(out), "-q", "--num-cpus", "2", "--object-store-mb",
                             "200", "--actors", "1"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    since = start_time(proc.pid)
    deadline = time.monotonic() + 240
    while stage not in session_processes(proc.pid, since).values():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == PROG + "interrupted; rerun the same command to finish"
    doc = json.loads((out / manifest.MANIFEST).read_text())
    assert [r["status"] for r in doc["items"]] in (["interrupted"], ["done"])
    assert not (out / manifest.JOURNAL).exists()
    # the command waits for its processes before it exits; a process that lingers (the old
    # agents did for minutes) is given a bound of 30 s, ample on a loaded machine
    deadline = time.monotonic() + 30
    while session_processes(proc.pid, since) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert session_processes(proc.pid, since) == {}


# --- 12. temporaries of killed runs (issue 31) ---------------------------------------------

def test_a_rerun_removes_the_temporaries_killed_writers_left_and_nothing_else(tmp_path):
    from posekit.apps.batch.results import remove_stale_outputs

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()                                        # a process id that is no process now
    out = tmp_path / "out"
    (out / "v").mkdir(parents=True)
    image, video = Item(0, "/in/a.jpg", "image", "a"), Item(1, "/in/v.mp4", "video", "v")
    stale = [out / f".a_keypoints.json.{gone.pid}-0123abcd.part.json",
             out / "v" / f".v_000000000003_keypoints.json.{gone.pid}-0123abcd.part.json",
             out / f".manifest.json.{gone.pid}-0123abcd.part.json"]
    kept = [out / f".a_keypoints.json.{os.getpid()}-0123abcd.part.json",     # a live writer
            out / f".b_keypoints.json.{gone.pid}-0123abcd.part.json",        # another item's
            out / "v" / f".notes.json.{gone.pid}-0123abcd.part.json",        # not an output
            out / ".a_keypoints.json.part.json", out / "v" / "v_keep.json"]
    for path in stale + kept:
        path.write_text("{}")
    remove_stale_outputs(out, image)
    remove_stale_outputs(out, video)
    manifest.remove_stale_temporaries(out)
    assert sorted(p for p in out.rglob("*") if p.is_file()) == sorted(kept)
