"""The app driven in a real browser: Debian's Chromium through Playwright (both installed by the CI).

Upload a photo, paint a region with the mouse, set a reference, press Run, and read the result back
from the page. Skipped, with the reason, where Chromium or Playwright is missing.
"""

import shutil
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tcp_hub import app_logic as logic
from test_app_client import example_inputs, load_app
from test_app_handlers import CHANGED, MARGIN, SIZE, UNCHANGED, diff, photo, tiny_pipe

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PHOTO_SIZE = 2 * SIZE
LOCAL = ("http://127.0.0.1", "http://localhost", "data:", "blob:")  # shown at about 1:1 on the canvas

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
PlaywrightTimeout = sync_api.TimeoutError
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None,
                       reason=f"{CHROMIUM} not found (apt-get install -y --no-install-recommends chromium)"),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app on a local port with a tiny model as its default; records what each edit received."""
    pipe = tiny_pipe()
    logic.MODEL_CACHE.put("", pipe)
    app = load_app()
    app.demo.queue(default_concurrency_limit=logic.CONCURRENCY_LIMIT)
    _, url, _ = app.demo.launch(prevent_thread_lock=True, quiet=True, **app.LAUNCH_OPTIONS)
    folder = tmp_path_factory.mktemp("browser")
    files = {"content": folder / "content.png", "reference": folder / "reference.png"}
    Image.fromarray(photo(0)).resize((PHOTO_SIZE, PHOTO_SIZE), Image.Resampling.BICUBIC).save(files["content"])
    Image.fromarray(photo(1)).save(files["reference"])
    try:
        yield url, pipe, files
    finally:
        app.demo.close()
        logic.MODEL_CACHE.clear()


@pytest.fixture(scope="module")
def page():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            # the page asks for web fonts and the like; nothing outside the local server can be reached
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(LOCAL)
                       else route.abort())
            yield page
        finally:
            browser.close()


def upload_photo(page, path, tries=3):
    """Drop the photo on the editor and wait until its brush tools show. On a busy machine the page can
    still be wiring its handlers when the first file arrives, and that upload is lost: upload again
    (through an emptied input, so the browser sees a change)."""
    page.wait_for_selector("#editor >> text=Upload an image", timeout=60_000)
    for attempt in range(tries):
        file_input = page.locator("#editor input[type=file]")
        if attempt:  # the same file again fires no change event unless the input was emptied
            file_input.set_input_files([])
        file_input.set_input_files(str(path))
        try:
            page.wait_for_selector("#editor button[aria-label='Brush Size']", timeout=20_000)
            return
        except PlaywrightTimeout:
            if attempt == tries - 1:
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "app_browser_upload_failed.png"), full_page=True)
                raise


def paint_left_band(page, width_fraction=0.3):
    """Brush a few wide vertical strokes over the left part of the photo shown on the editor's canvas.

    Every mouse event redraws the canvas (software WebGL here, ~0.3 s), so the brush is widened
    first and the strokes are few and coarse.
    """
    editor = page.locator("#editor")
    editor.locator("button[aria-label='Brush Size']").click()
    editor.locator("input[type=range]").fill("40")
    editor.locator("button[aria-label=Brush]").click()
    canvas = editor.locator("canvas").first.bounding_box()
    zoom = float(editor.get_by_text("%").first.inner_text().strip().rstrip("%")) / 100
    side = PHOTO_SIZE * zoom  # the photo is centred on the canvas
    left, top = canvas["x"] + (canvas["width"] - side) / 2, canvas["y"] + (canvas["height"] - side) / 2
    for column in np.linspace(0.02, width_fraction - 0.05, 5):
        page.mouse.move(left + column * side, top + 0.01 * side)
        page.mouse.down()
        page.mouse.move(left + column * side, top + 0.99 * side, steps=4)
        page.mouse.up()


def test_upload_paint_run_and_download_in_chromium(served, page, monkeypatch):
    url, pipe, files = served
    received = []
    stylize = logic.stylize
    monkeypatch.setattr(logic, "stylize", lambda pipe, content, masks, *a, **k:
                        received.append((masks[0], k.get("seed"))) or stylize(pipe, content, masks, *a, **k))

    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("#run", timeout=60_000)
    upload_photo(page, files["content"])
    page.wait_for_timeout(1000)  # the canvas lays the photo out
    paint_left_band(page)
    page.locator("#reference-1 input[type=file]").set_input_files(str(files["reference"]))
    page.wait_for_selector("#reference-1 img", timeout=30_000)
    page.locator("#run").click()
    result = page.wait_for_selector("#result img", timeout=60_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app_browser.png"), full_page=True)

    out = np.asarray(Image.open(BytesIO(page.request.get(result.get_attribute("src")).body())).convert("RGB"))
    assert out.shape == (PHOTO_SIZE, PHOTO_SIZE, 3)
    # what the brush painted reached the server as region 1: the left band of the photo
    mask = received[-1][0] > 0.5
    assert received[-1][1] == logic.NO_NOISE  # the page's seed box starts at "no noise"
    # (the canvas's zoom, hence the brush's width in photo pixels, differs between machines: the
    # outermost columns may be missed, the band between the first and the last stroke may not)
    assert mask[:, PHOTO_SIZE // 20: PHOTO_SIZE // 5].mean() > 0.95 and mask[:, : PHOTO_SIZE // 5].mean() > 0.8
    assert not mask[:, PHOTO_SIZE // 2:].any()
    content = np.asarray(Image.open(files["content"]).convert("RGB"))
    d = diff(out, content)  # keep_unedited (the default): the photo itself outside the painted band
    inside = np.zeros_like(mask)
    inside[16:-16, 16:PHOTO_SIZE // 5] = True
    assert d[inside].mean() > CHANGED
    right_edge = np.nonzero(mask.any(0))[0].max()
    # the page's feather (4 px) widens the blend past the paint; MARGIN is at SIZE, this photo is 2x
    assert d[:, right_edge + 1 + 2 * MARGIN:].max() <= UNCHANGED


def test_an_example_runs_with_one_click(served, page):
    url, _, _ = served
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("#run", timeout=60_000)
    page.get_by_text("Examples (click to run)").scroll_into_view_if_needed()
    page.locator("table tbody tr").first.click()
    result = page.wait_for_selector("#result img", timeout=60_000)
    out = np.asarray(Image.open(BytesIO(page.request.get(result.get_attribute("src")).body())).convert("RGB"))
    expected = logic.stylize_handler(**example_inputs(load_app().EXAMPLE_ROWS[0]))
    assert np.array_equal(out, expected)
    # the editor names the layers it loaded "Layer N"; the page shows the region names
    layer_names = page.locator("#editor").inner_text()
    assert "region 1" in layer_names and "Layer" not in layer_names


def test_a_file_that_is_not_an_image_gets_the_projects_message(served, page, tmp_path):
    url, _, files = served
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("#editor >> text=Upload an image", timeout=60_000)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    message = page.locator("#editor-message")
    page.locator("#editor input[type=file]").set_input_files(str(notes))
    page.wait_for_function("() => document.querySelector('#editor-message').textContent.includes('could not be read')",
                           timeout=30_000)
    assert message.inner_text().strip() == logic.UNREADABLE_PHOTO[0].upper() + logic.UNREADABLE_PHOTO[1:] + "."
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#editor").locator("..").screenshot(path=str(ARTIFACTS / "app_browser_not_an_image.png"))
    upload_photo(page, files["content"])  # a photo afterwards clears it
    assert message.inner_text().strip() == ""
