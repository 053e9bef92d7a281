"""The app served in-process and called through its named API endpoints with gradio_client."""

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from scripts import load_script
from tcp_hub import app_logic as logic
from test_app_handlers import (CHANGED, KEPT, SIZE, TEST_MODEL, deep_inside, diff, far_outside, layer, photo,
                               reconstruction, sideways_photo, stripes_and_grass, tiny_pipe)

BOX = (0, SIZE, 0, 40)  # region 1: the left band


def load_app():
    """Import the repository's app.py as a module (it is a script at the root, not part of the package)."""
    return load_script("app.py", "tcp_hub_space_app")


@pytest.fixture(scope="module")
def pipe():
    pipe = tiny_pipe()
    logic.MODEL_CACHE.put(TEST_MODEL, pipe)
    yield pipe
    logic.MODEL_CACHE.clear()


@pytest.fixture(scope="module")
def client(pipe):
    app = load_app()
    app.demo.queue(default_concurrency_limit=logic.CONCURRENCY_LIMIT)
    _, url, _ = app.demo.launch(prevent_thread_lock=True, quiet=True, **app.LAUNCH_OPTIONS)
    try:
        client = Client(url, verbose=False)
        client.served_app = app  # the module whose demo serves this client
        yield client
    finally:
        app.demo.close()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The test photos and a painted layer as PNG files, as a user would upload them."""
    folder = tmp_path_factory.mktemp("uploads")
    paths = {"content": photo(0), "reference": photo(1), "stripes": stripes_and_grass(), "layer": layer(BOX)}
    for name, array in paths.items():
        Image.fromarray(array).save(folder / f"{name}.png")
    return {name: str(folder / f"{name}.png") for name in paths}


def editor_files(background, layers=()):
    return {"background": handle_file(background), "layers": [handle_file(p) for p in layers], "composite": None}


def stylize(client, editor, reference, **options):
    """A /stylize call with the original twelve parameters, by position; ``detail``, ``keep_unedited`` and
    ``texture`` by name when given (left out, they take their defaults, as for clients written before they existed)."""
    args = dict(strength_1=1.0, mode=logic.MODE_REGIONS, feather=0, seed=0, show_outlines=False, model=TEST_MODEL)
    newer = {k: options.pop(k) for k in ("detail", "keep_unedited", "texture") if k in options}
    args.update(options)
    result = client.predict(editor, handle_file(reference) if reference else None, None, None,
                            args["strength_1"], 1.0, 1.0, args["mode"], args["feather"], args["seed"],
                            args["show_outlines"], args["model"], **newer, api_name="/stylize")
    return np.asarray(Image.open(result).convert("RGB"))


def test_api_names_every_action(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/stylize", "/suggest_region", "/accept_region", "/move_content"} <= set(endpoints)


def test_stylize_endpoint_restyles_the_painted_region_only(client, pipe, files):
    out = stylize(client, editor_files(files["content"], [files["layer"]]), files["reference"])
    d = diff(out, reconstruction(pipe, photo(0)))
    assert out.shape == (SIZE, SIZE, 3)
    assert d[deep_inside(BOX)].mean() > CHANGED
    kept = far_outside([BOX], KEPT)
    assert np.array_equal(out[kept], photo(0)[kept])


def test_stylize_endpoint_takes_detail_keep_unedited_and_texture_by_name(client, pipe, files):
    editor = editor_files(files["content"], [files["layer"]])
    out = stylize(client, editor, files["reference"], detail=0.0, keep_unedited=False, texture=1.0)
    expected = logic.stylize_handler({"background": photo(0), "layers": [layer(BOX)], "composite": None}, photo(1),
                                     None, None, 1.0, 1.0, 1.0, logic.MODE_REGIONS, 0, 0, False, TEST_MODEL,
                                     detail=0.0, keep_unedited=False, texture=1.0)
    assert np.array_equal(out, expected)
    assert not np.array_equal(out, stylize(client, editor, files["reference"]))


def test_the_pages_controls_start_at_the_endpoints_defaults(client):
    named = client.served_app.named
    assert set(logic.STYLIZE_DEFAULTS) == set(logic.STYLIZE_INPUTS) - {"editor"}
    assert {name: named[name].value for name in logic.STYLIZE_DEFAULTS} == logic.STYLIZE_DEFAULTS


def test_stylize_endpoint_takes_every_parameter_by_name_with_the_pages_defaults(client, pipe, files):
    editor = editor_files(files["content"], [files["layer"]])
    by_name = client.predict(editor=editor, reference_1=handle_file(files["reference"]), model=TEST_MODEL,
                             feather=0, api_name="/stylize")
    default_seed = stylize(client, editor, files["reference"], seed=logic.NO_NOISE)
    assert np.array_equal(np.asarray(Image.open(by_name).convert("RGB")), default_seed)


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_mask_layer_without_alpha_is_read_by_brightness(client, pipe, files, mode, tmp_path):
    white_box = Image.fromarray(layer(BOX)[..., 3]).convert(mode)  # white where painted, black elsewhere
    white_box.save(tmp_path / "white.png")
    Image.new(mode, (SIZE, SIZE)).save(tmp_path / "black.png")
    painted_with_alpha = stylize(client, editor_files(files["content"], [files["layer"]]), files["reference"])
    out = stylize(client, editor_files(files["content"], [str(tmp_path / "white.png")]), files["reference"])
    assert np.array_equal(out, painted_with_alpha)
    # an all-black layer paints nothing: the photo comes back unedited (with a warning), not restyled all over
    out = stylize(client, editor_files(files["content"], [str(tmp_path / "black.png")]), files["reference"])
    assert np.array_equal(out, photo(0))


def test_phone_photo_is_edited_upright(client, files, tmp_path):
    upright = sideways_photo(tmp_path / "phone.png")  # [SIZE, 96] upright, stored turned with an EXIF tag
    Image.fromarray(layer(BOX)[:, :96]).save(tmp_path / "layer.png")  # painted on the upright photo
    out = stylize(client, editor_files(str(tmp_path / "phone.png"), [str(tmp_path / "layer.png")]),
                  files["reference"])
    assert out.shape == (SIZE, 96, 3)
    assert np.array_equal(out[:, 40 + KEPT:], upright[:, 40 + KEPT:])


def test_eight_simultaneous_calls_all_return_their_correct_result(client, pipe, files):
    editor = editor_files(files["content"], [files["layer"]])
    seeds = [0, 1] * 4  # identical requests in flight together, and different ones side by side
    with ThreadPoolExecutor(max_workers=8) as pool:
        outs = list(pool.map(lambda seed: stylize(client, editor, files["reference"], seed=seed), seeds))
    expected = {seed: logic.stylize_handler(
        {"background": photo(0), "layers": [layer(BOX)], "composite": None}, photo(1), None, None,
        1.0, 1.0, 1.0, logic.MODE_REGIONS, 0, seed, False, TEST_MODEL) for seed in (0, 1)}
    assert not np.array_equal(expected[0], expected[1])
    for seed, out in zip(seeds, outs):
        assert np.array_equal(out, expected[seed])
    for seed in (0, 1):
        d = diff(expected[seed], reconstruction(pipe, photo(0), seed=seed))
        assert d[deep_inside(BOX)].mean() > CHANGED
        kept = far_outside([BOX], KEPT)
        assert np.array_equal(expected[seed][kept], photo(0)[kept])


def test_missing_reference_reaches_the_client_as_a_message(client, files):
    with pytest.raises(AppError, match="region 1 is painted but has no style reference"):
        stylize(client, editor_files(files["content"], [files["layer"]]), None)


def test_user_mistakes_print_one_line_in_the_server_console(client, files, tmp_path, capfd, caplog):
    bogus = tmp_path / "reference.png"
    bogus.write_bytes(b"not an image")
    with caplog.at_level(logging.WARNING, logger=logic.__name__):
        with pytest.raises(AppError, match="no style reference"):
            stylize(client, editor_files(files["content"], [files["layer"]]), None)
        with pytest.raises(AppError, match="could not be read as an image"):
            stylize(client, editor_files(files["content"], [files["layer"]]), str(bogus))
    assert "Traceback" not in capfd.readouterr().err
    lines = [r.getMessage() for r in caplog.records if r.name == logic.__name__]
    assert len(lines) == 2 and all("\n" not in line for line in lines)
    assert "no style reference" in lines[0] and "could not be read as an image" in lines[1]


def test_unknown_model_reaches_the_client_as_a_message(client, files, tmp_path):
    with pytest.raises(AppError, match="could not load the model"):
        stylize(client, editor_files(files["content"], [files["layer"]]), files["reference"], model=str(tmp_path))


def test_allow_local_models_flag_lets_the_model_box_load_folders(monkeypatch):
    app = load_app()
    assert "--allow-local-models" in app.__doc__ and f"{logic.ALLOW_LOCAL_MODELS_ENV}=1" in app.__doc__
    launched = []
    monkeypatch.setattr(app.demo, "queue", lambda **_: SimpleNamespace(launch=lambda **kw: launched.append(kw)))
    monkeypatch.setenv(logic.ALLOW_LOCAL_MODELS_ENV, "0")
    app.main([])
    assert not logic.local_models_allowed()
    app.main(["--allow-local-models"])
    assert logic.local_models_allowed()
    assert launched == [app.LAUNCH_OPTIONS] * 2


def test_reference_that_is_not_an_image_is_refused_with_a_message(client, files, tmp_path):
    bogus = tmp_path / "reference.png"
    bogus.write_bytes(b"\x89PNG but not really")
    with pytest.raises(AppError, match="could not be read as an image"):
        stylize(client, editor_files(files["content"], [files["layer"]]), str(bogus))


def test_upload_above_the_size_limit_is_refused(client, files, tmp_path):
    big = tmp_path / "huge.png"
    big.write_bytes(b"\0" * (21 * 1024 * 1024))  # 21 MB > logic.MAX_FILE_SIZE (20 MB)
    with pytest.raises(ValueError, match="exceeds the maximum file size"):  # gradio_client checks first
        stylize(client, editor_files(files["content"], [files["layer"]]), str(big))
    with big.open("rb") as f:  # and the server refuses it from any other client too
        response = httpx.post(client.src.rstrip("/") + "/gradio_api/upload", files={"files": f}, timeout=60)
    assert response.status_code == 413 and "maximum" in response.text.lower()


def test_suggested_region_can_be_accepted_and_restyled(client, pipe, files):
    editor = editor_files(files["stripes"])
    preview, mask = client.predict(editor, 10, 64, 0.8, True, "region 1", TEST_MODEL, api_name="/suggest_region")
    mask = np.asarray(Image.open(mask).convert("L"))
    assert (mask[:, :32] == 255).mean() > 0.95 and (mask[:, 48:] == 0).all()
    accepted = client.predict(editor, handle_file(_save(mask, files, "mask")), "region 1", api_name="/accept_region")
    painted = np.asarray(Image.open(accepted["layers"][0]).convert("RGBA"))
    assert np.array_equal(painted[..., 3] > 0, mask > 0)
    edited = {"background": handle_file(accepted["background"]),
              "layers": [handle_file(p) for p in accepted["layers"]], "composite": None}
    out = stylize(client, edited, files["reference"])
    d = diff(out, reconstruction(pipe, stripes_and_grass()))
    assert d[8:-8, 8:32].mean() > CHANGED
    right_edge = np.nonzero(mask.any(0))[0].max()
    assert np.array_equal(out[:, right_edge + 1 + KEPT:], stripes_and_grass()[:, right_edge + 1 + KEPT:])


def example_inputs(row) -> dict:
    """An example row as the handler receives it once Gradio has read its files (numpy images), by name."""
    def read(path, mode):
        return None if path is None else np.asarray(Image.open(path).convert(mode))

    inputs = dict(zip(logic.STYLIZE_INPUTS, row))
    editor = inputs["editor"]
    inputs["editor"] = {"background": read(editor["background"], "RGBA"),
                        "layers": [read(p, "RGBA") for p in editor["layers"]],
                        "composite": read(editor["composite"], "RGBA")}
    for i in range(logic.NUM_REGIONS):
        inputs[f"reference_{i + 1}"] = read(inputs[f"reference_{i + 1}"], "RGB")
    return inputs


def test_every_example_runs_and_restyles_what_it_paints(pipe):
    logic.MODEL_CACHE.put("", pipe)  # the examples use the default model
    app = load_app()
    assert len(app.EXAMPLE_ROWS) >= 3
    for row in app.EXAMPLE_ROWS:
        inputs = example_inputs(row)
        inputs["show_outlines"] = False  # compare pixels
        out = logic.stylize_handler(**inputs)
        content = inputs["editor"]["background"]
        assert out.shape == content.shape[:2] + (3,)
        d = diff(out, reconstruction(pipe, content[..., :3]))
        if inputs["mode"] == logic.MODE_WHOLE:
            assert d.mean() > CHANGED
        references = [inputs[f"reference_{i + 1}"] for i in range(logic.NUM_REGIONS)]
        for mask, ref in zip(logic.editor_masks(inputs["editor"], content.shape[:2]), references):
            if inputs["mode"] == logic.MODE_REGIONS and mask.any():
                assert ref is not None and d[mask > 0.99].mean() > CHANGED


def _save(array, files, name):
    path = Path(files["content"]).with_name(f"{name}.png")
    Image.fromarray(array).save(path)
    return str(path)


def test_results_and_uploads_are_swept_from_gradios_cache(client, pipe, files):
    from gradio.route_utils import delete_files_created_by_app

    app = client.served_app
    assert app.demo.delete_cache == logic.CACHE_CLEANUP
    client.predict(editor_files(files["content"], [files["layer"]]), handle_file(files["reference"]), None, None,
                   1.0, 1.0, 1.0, logic.MODE_REGIONS, 0, logic.NO_NOISE, False, TEST_MODEL, api_name="/stylize")
    served = [Path(f) for s in app.demo.temp_file_sets for f in s]
    results = [f for f in served if f.name == "result.png"]
    assert results and all(f.exists() for f in results)
    delete_files_created_by_app(app.demo, age=10 ** 6)  # nothing is that old yet
    assert all(f.exists() for f in results)
    uploads = [f for f in served if f.name in {"content.png", "reference.png", "layer.png"}]
    assert uploads
    delete_files_created_by_app(app.demo, age=None)  # what the sweep does to files older than CACHE_CLEANUP[1]
    assert not [f for f in results + uploads if f.exists()]  # (the examples' files are kept: Gradio protects them)
