"""Loading by Hub repo id, resolved offline through a Hugging Face cache written by the test."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

LOAD_AND_RUN = """
import numpy as np, sys
from tcp_hub import TCPPipeline
pipe = TCPPipeline.from_pretrained("someuser/tcp-ffhq")
img = np.full((32, 32, 3), 120, np.uint8)
out = pipe(img, img, output_type="np").images[0]
np.save(sys.argv[1], out)
"""


def write_into_hub_cache(folder: Path, cache: Path, repo_id: str, commit: str = "a" * 40):
    """Lay ``folder`` out as huggingface_hub's cache does: blobs by sha256, a snapshot, refs/main."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
            blob.parent.mkdir(parents=True, exist_ok=True)
            blob.write_bytes(data)
            link = repo / "snapshots" / commit / path.relative_to(folder)
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.path.relpath(blob, link.parent), link)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)


def test_from_pretrained_by_repo_id_through_offline_cache(tmp_path, tiny_pipe):
    tiny_pipe.save_pretrained(tmp_path / "saved")
    write_into_hub_cache(tmp_path / "saved", tmp_path / "cache", "someuser/tcp-ffhq")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp_path / "cache"),
               HF_HOME=str(tmp_path / "home"))
    result = subprocess.run([sys.executable, "-c", LOAD_AND_RUN, str(tmp_path / "out.npy")], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    img = np.full((32, 32, 3), 120, np.uint8)
    expected = tiny_pipe(img, img, output_type="np").images[0]
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-6)


def test_missing_repo_offline_fails_with_a_message_naming_it(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp_path / "empty"), HF_HOME=str(tmp_path / "home"))
    result = subprocess.run([sys.executable, "-c", LOAD_AND_RUN, str(tmp_path / "out.npy")], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "someuser/tcp-ffhq" in result.stderr
