"""The app's handlers called directly with the values Gradio would hand them (numpy editor dicts).

A tiny random model (fixed seed) stands in for the trained one: it does not make pretty pictures,
but it restyles what is painted and leaves the rest of the photo as it was, pixel for pixel.
The other app test files import the helpers defined here.
"""

import logging
import warnings

import gradio as gr
import numpy as np
import pytest
import torch
from gradio.components.image_editor import EditorData

from tcp_hub import TCPPipeline, build_models
from tcp_hub import app_logic as logic

SIZE = 128  # test photos are SIZE x SIZE; the app works at logic.WORKING_SIZE (256) and scales back
# How far (px at SIZE) the generator's edits leak past a region's edge with the tiny random model
# (keep_unedited off): measured 24 px for one region and 32 px for three (64 px at the working size: four
# 3x3 convs at 1/16 scale spread each cell to its neighbours). A trained model's content-alignment loss
# keeps it much tighter.
MARGIN = 32
# With keep_unedited (the default) the photo is kept from KEEP_MARGIN (8) px at the working size past a
# region, 4 px at SIZE; one more for resampling.
KEPT = 5
UNCHANGED = 1  # max |diff| in uint8 beyond MARGIN: only float rounding (< 2/255)
CHANGED = 2.0  # min mean |diff| in uint8 deep inside a painted region
TEST_MODEL = "tiny-test"

_yy, _xx = np.mgrid[0:SIZE, 0:SIZE]


def photo(seed: int) -> np.ndarray:
    """A smooth, textured ``[SIZE, SIZE, 3]`` uint8 picture (different for each seed)."""
    rng = np.random.default_rng(seed)
    freq, phase = rng.uniform(0.03, 0.2, 3), rng.uniform(0, 6, 3)
    channels = [0.5 + 0.4 * np.sin(freq[c] * (_xx + (c + 1) * _yy) + phase[c]) for c in range(3)]
    return (np.stack(channels, -1) * 255).astype(np.uint8)


def layer(box=None, color=(230, 57, 70)) -> np.ndarray:
    """An editor layer ``[SIZE, SIZE, 4]`` uint8 with an opaque painted box ``(y0, y1, x0, x1)``."""
    out = np.zeros((SIZE, SIZE, 4), np.uint8)
    if box is not None:
        y0, y1, x0, x1 = box
        out[y0:y1, x0:x1] = (*color, 255)
    return out


def editor(content, boxes) -> dict:
    """The ImageEditor value: RGBA background, one layer per box (None = unpainted), composite."""
    background = np.dstack([content, np.full(content.shape[:2], 255, np.uint8)])
    layers = [layer(b) for b in boxes]
    return {"background": background, "layers": layers, "composite": logic.composite(background, layers)}


def painted(boxes) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), bool)
    for y0, y1, x0, x1 in (b for b in boxes if b is not None):
        mask[y0:y1, x0:x1] = True
    return mask


def far_outside(boxes, margin=MARGIN) -> np.ndarray:
    """Pixels more than ``margin`` px (chessboard distance) from every painted box."""
    near = np.zeros((SIZE, SIZE), bool)
    for y0, y1, x0, x1 in (b for b in boxes if b is not None):
        near[max(0, y0 - margin):y1 + margin, max(0, x0 - margin):x1 + margin] = True
    return ~near


def deep_inside(box, depth=8) -> np.ndarray:
    y0, y1, x0, x1 = box
    mask = np.zeros((SIZE, SIZE), bool)
    mask[y0 + depth:y1 - depth, x0 + depth:x1 - depth] = True
    return mask


def tiny_pipe() -> TCPPipeline:
    """A tiny random model whose noise inputs matter (a fresh model's noise weights start at 0)."""
    torch.manual_seed(0)
    encoder, generator, _, _ = build_models("tiny")
    with torch.no_grad():
        for name, param in generator.named_parameters():
            if "noise" in name:
                param.fill_(0.2)
    return TCPPipeline(encoder.eval(), generator.eval())


def reconstruction(pipe, content, seed=0, **options) -> np.ndarray:
    """The unedited photo as the model renders it (own style, same seed and working size) -> uint8."""
    out = pipe(content, style=content, resolution=logic.WORKING_SIZE, seed=seed, output_type="np",
               **options).images[0]
    return logic.to_uint8(out)


def diff(a, b) -> np.ndarray:
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).max(-1)


def run(edit, refs, strengths=(1.0, 1.0, 1.0), mode=logic.MODE_REGIONS, feather=0, seed=0, outlines=False,
        model=TEST_MODEL, **options):
    refs = list(refs) + [None] * (3 - len(refs))
    return logic.stylize_handler(edit, *refs, *strengths, mode, feather, seed, outlines, model, **options)


@pytest.fixture(scope="module")
def pipe():
    pipe = tiny_pipe()
    logic.MODEL_CACHE.put(TEST_MODEL, pipe)
    yield pipe
    logic.MODEL_CACHE.clear()


@pytest.fixture(scope="module")
def content():
    return photo(0)


# ---- region edits ----------------------------------------------------------------------------------
def test_one_region_changes_inside_and_keeps_the_photo_outside(pipe, content):
    box = (0, SIZE, 0, 40)
    out = run(editor(content, [box]), [photo(1)])
    assert out.shape == (SIZE, SIZE, 3) and out.dtype == np.uint8
    assert diff(out, reconstruction(pipe, content))[deep_inside(box)].mean() > CHANGED
    kept = far_outside([box], KEPT)
    assert np.array_equal(out[kept], content[kept])


def test_without_keep_unedited_and_with_texture_1_the_whole_photo_is_rerendered(pipe, content):
    box = (0, SIZE, 0, 40)
    out = run(editor(content, [box]), [photo(1)], keep_unedited=False, texture=1.0)
    d = diff(out, reconstruction(pipe, content, detail=0.0, texture=1.0))
    assert d[deep_inside(box)].mean() > CHANGED
    assert d[far_outside([box])].max() <= UNCHANGED
    assert diff(out, content)[far_outside([box])].mean() > CHANGED


def test_detail_changes_only_the_edited_region(pipe, content):
    box = (0, SIZE, 0, 64)
    plain, detailed = (run(editor(content, [box]), [photo(1)], detail=d, texture=1.0) for d in (0.0, 1.0))
    assert diff(plain, detailed)[deep_inside(box)].mean() > CHANGED
    kept = far_outside([box], KEPT)
    assert np.array_equal(plain[kept], detailed[kept])


def test_texture_reaches_the_pipeline_inside_the_region_only(pipe, content):
    box = (0, SIZE, 0, 64)
    photo_kept, rendered = (run(editor(content, [box]), [photo(1)], texture=t) for t in (0.0, 1.0))
    assert diff(photo_kept, rendered)[deep_inside(box)].mean() > CHANGED
    kept = far_outside([box], KEPT)
    assert np.array_equal(photo_kept[kept], content[kept]) and np.array_equal(rendered[kept], content[kept])


def test_detail_outside_0_to_1_is_refused_with_a_message(pipe, content):
    with pytest.raises(gr.Error, match="detail is 2"):
        run(editor(content, [(0, 32, 0, 32)]), [photo(1)], detail=2.0)


def test_three_regions_each_get_their_own_reference(pipe, content):
    boxes = [(0, 32, 0, 32), (0, 32, SIZE - 32, SIZE), (SIZE - 32, SIZE, 0, 32)]
    refs = [photo(1), photo(2), photo(3)]
    out = run(editor(content, boxes), refs)
    rec = reconstruction(pipe, content)
    for box in boxes:
        assert diff(out, rec)[deep_inside(box)].mean() > CHANGED
    kept = far_outside(boxes, KEPT)
    assert kept.sum() > 1000
    assert np.array_equal(out[kept], content[kept])
    # region 2 with region 1's reference looks different from region 2 with its own
    swapped = run(editor(content, boxes), [refs[0], refs[0], refs[2]])
    assert diff(out, swapped)[deep_inside(boxes[1])].mean() > CHANGED
    assert diff(out, swapped)[deep_inside(boxes[0])].max() <= UNCHANGED


def test_strength_zero_leaves_its_region_unedited(pipe, content):
    boxes = [(0, 32, 0, 32), (0, 32, SIZE - 32, SIZE)]
    out = run(editor(content, boxes), [photo(1), photo(2)], strengths=(1.0, 0.0, 1.0))
    d = diff(out, reconstruction(pipe, content))
    assert d[deep_inside(boxes[0])].mean() > CHANGED
    assert d[deep_inside(boxes[1])].max() <= UNCHANGED


def test_soft_layer_alpha_blends_between_unedited_and_full_edit(pipe, content):
    box = (0, SIZE, 0, 48)
    full = run(editor(content, [box]), [photo(1)])
    soft = editor(content, [box])
    soft["layers"][0][..., 3] = round(255 * logic.BRUSH_OPACITY / 2)  # half as opaque as a brush stroke
    half = run(soft, [photo(1)])
    inside = deep_inside(box)
    assert 0 < diff(half, content)[inside].mean() < diff(full, content)[inside].mean()


def test_mask_layer_without_alpha_reads_paint_from_brightness(pipe, content):
    box = (0, SIZE, 0, 48)
    painted_with_alpha = run(editor(content, [box]), [photo(1)])
    white_box = np.zeros((SIZE, SIZE), np.uint8)
    white_box[box[0]:box[1], box[2]:box[3]] = 255
    for mask in (white_box, np.dstack([white_box] * 3), white_box[..., None]):  # grey, RGB, one channel
        edit = editor(content, [])
        edit["layers"] = [mask]
        assert np.array_equal(run(edit, [photo(1)]), painted_with_alpha)
    grey = editor(content, [])
    grey["layers"] = [white_box // 2]  # mid-grey: half an edit
    half = run(grey, [photo(1)])
    inside = deep_inside(box)
    assert 0 < diff(half, content)[inside].mean() < diff(painted_with_alpha, content)[inside].mean()


def test_all_black_mask_layer_without_alpha_is_nothing_painted(pipe, content):
    for black in (np.zeros((SIZE, SIZE), np.uint8), np.zeros((SIZE, SIZE, 3), np.uint8)):
        edit = editor(content, [])
        edit["layers"] = [black]
        with pytest.warns(UserWarning, match="region 1 has a style reference but nothing is painted"):
            out = run(edit, [photo(1)])
        assert np.array_equal(out, content)


def test_whole_image_swaps_everywhere_and_ignores_painting(pipe, content):
    out = run(editor(content, [(0, 32, 0, 32)]), [photo(1)], mode=logic.MODE_WHOLE)
    expected = pipe(content, style=photo(1), resolution=logic.WORKING_SIZE, seed=0, output_type="np").images[0]
    assert diff(out, logic.to_uint8(expected)).max() <= UNCHANGED
    assert diff(out, reconstruction(pipe, content)).mean() > CHANGED


def test_the_app_edits_at_the_models_recorded_training_size(pipe, content):
    trained_at_64 = tiny_pipe()
    trained_at_64.encoder.register_to_config(sample_size=64)
    logic.MODEL_CACHE.put("trained-at-64", trained_at_64)
    out = run(editor(content, []), [photo(1)], mode=logic.MODE_WHOLE, model="trained-at-64")
    at_64 = trained_at_64(content, style=photo(1), resolution=64, seed=0, output_type="np").images[0]
    at_default = trained_at_64(content, style=photo(1), resolution=logic.WORKING_SIZE, seed=0,
                               output_type="np").images[0]
    assert logic.working_size(pipe) == logic.WORKING_SIZE  # records no size: the app's fallback
    assert diff(out, logic.to_uint8(at_64)).max() <= UNCHANGED
    assert diff(out, logic.to_uint8(at_default)).mean() > CHANGED


def test_same_seed_same_output_other_seed_differs(pipe, content):
    edit = editor(content, [(0, SIZE, 0, 64)])
    a, b = run(edit, [photo(1)], seed=7), run(edit, [photo(1)], seed=7)
    c = run(edit, [photo(1)], seed=8)
    assert np.array_equal(a, b)
    assert diff(a, c).mean() > 0.1


def test_outlines_are_drawn_in_the_region_colour_only_on_request(pipe, content):
    box = (32, 96, 32, 96)
    plain = run(editor(content, [box]), [photo(1)])
    outlined = run(editor(content, [box]), [photo(1)], outlines=True)
    edge = np.zeros((SIZE, SIZE), bool)
    edge[32, 40:88] = True  # on the box's top edge
    assert (outlined[edge] == logic.REGION_COLORS[0]).all()
    assert not (plain[edge] == logic.REGION_COLORS[0]).all(-1).any()
    assert np.array_equal(outlined[deep_inside(box)], plain[deep_inside(box)])


def test_large_photo_is_edited_at_working_size_and_returned_at_full_size(pipe):
    big = np.asarray(logic.Image.fromarray(photo(0)).resize((600, 450)))
    edit = {"background": big, "layers": [np.zeros((450, 600, 4), np.uint8)], "composite": big}
    edit["layers"][0][:, :200, 3] = 255
    out = run(edit, [photo(1)])
    assert out.shape == (450, 600, 3)
    rec = logic.to_uint8(pipe(big, style=big, resolution=logic.WORKING_SIZE, seed=0, output_type="np").images[0])
    assert diff(out, rec)[:, :100].mean() > CHANGED
    assert np.array_equal(out[:, 220:], big[:, 220:])  # 8 px at the working size past the paint: 19 px here


# ---- problems the user sees as messages -------------------------------------------------------------
def test_empty_region_with_reference_warns_and_returns_the_unedited_photo(pipe, content):
    with pytest.warns(UserWarning, match="region 2 has a style reference but nothing is painted"):
        out = run(editor(content, [None, None]), [None, photo(1)])
    assert np.array_equal(out, content)


def test_empty_region_beside_a_painted_one_only_edits_the_painted_one(pipe, content):
    box = (0, SIZE, 0, 40)
    with pytest.warns(UserWarning, match="region 2"):
        out = run(editor(content, [box, None]), [photo(1), photo(2)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        alone = run(editor(content, [box]), [photo(1)])
    assert np.array_equal(out, alone)


def test_painted_region_without_reference_names_the_region(pipe, content):
    with pytest.raises(gr.Error, match="region 2 is painted but has no style reference"):
        run(editor(content, [(0, 32, 0, 32), (0, 32, 96, 128)]), [photo(1), None])


def test_user_mistake_is_logged_as_one_line_without_traceback(pipe, content, caplog):
    with caplog.at_level(logging.WARNING, logger=logic.__name__), pytest.raises(gr.Error) as refused:
        run(editor(content, [(0, 32, 0, 32)]), [None])
    assert refused.value.print_exception is False  # Gradio prints no traceback for it
    [record] = caplog.records
    assert record.exc_info is None and "\n" not in record.getMessage()
    assert record.getMessage() == "stylize_handler refused: " + refused.value.message


def test_no_content_photo_asks_for_one(pipe):
    with pytest.raises(gr.Error, match="upload a content photo"):
        run({"background": None, "layers": [], "composite": None}, [photo(1)])
    with pytest.raises(gr.Error, match="upload a content photo"):
        run(None, [photo(1)])


def test_nothing_painted_and_no_reference_explains_what_to_do(pipe, content):
    with pytest.raises(gr.Error, match="paint a region .* or choose 'whole image'"):
        run(editor(content, []), [])


def test_whole_image_without_reference_asks_for_reference_1(pipe, content):
    with pytest.raises(gr.Error, match="reference 1"):
        run(editor(content, []), [], mode=logic.MODE_WHOLE)


def test_bad_seed_is_refused_with_a_message(pipe, content):
    for bad in (-2, 2.5):
        with pytest.raises(gr.Error, match="seed must be a whole number"):
            run(editor(content, [(0, 32, 0, 32)]), [photo(1)], seed=bad)


def test_seed_minus_one_means_no_noise(pipe, content):
    edit = editor(content, [(0, 32, 0, 32)])
    quiet = run(edit, [photo(1)], seed=logic.NO_NOISE, feather=0)
    assert np.array_equal(quiet, run(edit, [photo(1)], seed=None, feather=0))
    assert not np.array_equal(quiet, run(edit, [photo(1)], seed=0, feather=0))


def test_strength_outside_0_to_1_names_the_region(pipe, content):
    with pytest.raises(gr.Error, match="strength of region 2 is 1.5"):
        run(editor(content, [(0, 32, 0, 32)]), [photo(1)], strengths=(1.0, 1.5, 1.0))


def test_photo_too_large_is_refused_with_its_size(pipe):
    huge = np.zeros((10, logic.MAX_SIDE + 1, 3), np.uint8)
    with pytest.raises(gr.Error, match=f"{logic.MAX_SIDE + 1}x10"):
        run({"background": huge, "layers": [], "composite": huge}, [photo(1)], mode=logic.MODE_WHOLE)


def test_reference_that_is_not_an_image_gives_a_message(pipe, content):
    boxes = [(0, 32, 0, 32), None, (96, 128, 96, 128)]
    with pytest.raises(gr.Error, match="style reference for region 3"):
        run(editor(content, boxes), [photo(1), None, np.zeros((4, 4, 2), np.uint8)])


def test_unreadable_upload_becomes_a_message_naming_the_component(tmp_path):
    bogus = tmp_path / "photo.png"
    bogus.write_bytes(b"this is not a PNG")
    component = logic.CheckedImage(label="Style reference for region 1", type="numpy")
    payload = gr.FileData(path=str(bogus), orig_name="photo.png")
    with pytest.raises(gr.Error, match="'Style reference for region 1' could not be read as an image"):
        component.preprocess(payload)


def sideways_photo(path, orientation=6) -> np.ndarray:
    """Save the upright ``[SIZE, 96, 3]`` photo as a phone does: stored turned, with an EXIF orientation tag
    (6: turn 90 degrees clockwise to show it). Returns the upright photo."""
    upright = photo(0)[:, :96]
    exif = logic.Image.Exif()
    exif[logic.ExifTags.Base.Orientation] = orientation
    logic.Image.fromarray(np.rot90(upright)).save(path, exif=exif)  # stored turned counter-clockwise
    return upright


def test_content_photo_is_turned_upright_by_its_exif_orientation(tmp_path):
    upright = sideways_photo(tmp_path / "phone.png")
    component = logic.CheckedImageEditor(type="numpy", image_mode="RGBA")
    payload = EditorData(background=gr.FileData(path=str(tmp_path / "phone.png")), layers=[], composite=None)
    assert np.array_equal(component.preprocess(payload)["background"][..., :3], upright)


def test_photo_without_exif_rotation_is_kept_as_stored(tmp_path):
    logic.Image.fromarray(photo(0)[:, :96]).save(tmp_path / "plain.png")
    component = logic.CheckedImageEditor(type="numpy", image_mode="RGBA")
    value = component.preprocess(EditorData(background=gr.FileData(path=str(tmp_path / "plain.png")), layers=[],
                                            composite=None))
    assert np.array_equal(value["background"][..., :3], photo(0)[:, :96])


@pytest.mark.parametrize("bad, message", [(b"", "could not be read as an image"),
                                         ("bomb", "is too large to read")])
def test_an_unreadable_mask_layer_is_named_as_that_regions_painting(tmp_path, bad, message):
    from test_image_inputs import png_claiming

    logic.Image.fromarray(photo(0)).save(tmp_path / "photo.png")
    logic.Image.fromarray(layer((0, 8, 0, 8))).save(tmp_path / "good.png")
    (tmp_path / "bad.png").write_bytes(png_claiming(30000, 30000) if bad == "bomb" else bad)
    files = [gr.FileData(path=str(tmp_path / name)) for name in ("good.png", "bad.png")]
    payload = EditorData(background=gr.FileData(path=str(tmp_path / "photo.png")), layers=files, composite=None)
    with pytest.raises(gr.Error, match=f"the painting of region 2 {message}") as err:
        logic.CheckedImageEditor(type="numpy", image_mode="RGBA").preprocess(payload)
    assert "content photo" not in str(err.value) and "erase it and paint again" in str(err.value)


def test_an_oversized_reference_is_named_and_the_advice_is_for_the_page(pipe, content):
    wide = np.zeros((8, logic.MAX_SIDE + 1, 3), np.uint8)
    with pytest.raises(gr.Error) as err:
        run(editor(content, [(0, 32, 0, 32)]), [wide])
    message = str(err.value)
    assert f"the style reference for region 1 is {logic.MAX_SIDE + 1}x8" in message and "upload it again" in message
    assert "max_side" not in message and "resolution" not in message


def test_the_stylize_inputs_are_the_public_api_in_order():
    assert logic.STYLIZE_INPUTS == ("editor", "reference_1", "reference_2", "reference_3", "strength_1",
                                    "strength_2", "strength_3", "mode", "feather", "seed", "show_outlines",
                                    "model", "detail", "keep_unedited", "style_mask_1", "style_mask_2",
                                    "style_mask_3", "texture")


def test_a_style_mask_takes_the_style_from_the_painted_part_of_the_reference(pipe, content):
    box = (0, 64, 0, 64)
    reference = photo(1)
    half = np.zeros((SIZE, SIZE), np.uint8)
    half[:, SIZE // 2:] = 255  # the right half of the reference, as a grey-level mask file
    out = run(editor(content, [box]), [reference], style_mask_1=half)
    whole = run(editor(content, [box]), [reference])
    expected = pipe(content, style=[reference], mask=logic.editor_masks(editor(content, [box]), (SIZE, SIZE))[:1],
                    style_mask=[half / 255.0], resolution=logic.WORKING_SIZE, max_side=logic.MAX_SIDE, seed=0,
                    output_type="np").images[0]
    assert np.abs(out.astype(int) - logic.to_uint8(expected).astype(int)).max() <= 1
    assert diff(out, whole)[deep_inside(box)].mean() > 0.5  # another style than the whole reference's
    assert diff(out, whole)[far_outside([box])].max() <= UNCHANGED


def test_paint_is_read_from_alpha_when_there_is_transparency_else_from_brightness():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = 255  # white everywhere, painted (opaque) only in the top row
    rgba[0, :, 3] = 255
    assert np.array_equal(logic.paint_of(rgba), np.pad(np.ones((1, 4)), ((0, 3), (0, 0))))
    grey = np.array([[0, 255], [255, 0]], np.uint8)
    assert np.array_equal(logic.paint_of(grey), grey / 255.0)
    assert np.allclose(logic.paint_of(np.dstack([grey] * 3)), grey / 255.0)
    opaque = np.dstack([grey] * 3 + [np.full_like(grey, 255)])  # RGBA with no transparency: brightness
    assert np.allclose(logic.paint_of(opaque), grey / 255.0)


# ---- copying content ----------------------------------------------------------------------------------
def test_copy_here_puts_the_painted_content_at_the_click_and_keeps_the_rest(pipe, content):
    box = (0, 32, 0, 32)  # region 1 paints the top-left corner; its centre (15.5, 15.5) goes to (79.5, 79.5)
    out = logic.move_handler(editor(content, [box]), 79.5, 79.5, 0, TEST_MODEL)
    assert out.shape == content.shape
    target = (64, 96, 64, 96)  # 64 px at SIZE = 128 px at the working size: exactly 8 cells of 16 px
    assert diff(out, content)[deep_inside(target)].mean() > CHANGED
    assert diff(out, content)[far_outside([target], KEPT * 2)].max() <= UNCHANGED  # the photo elsewhere
    # what was copied is the corner's content, rendered in the photo's style: the same as the pipeline's paste
    expected = pipe.paste_content(content, editor_masks_of([box])[0], offset=(64, 64), resolution=logic.WORKING_SIZE,
                                  output_type="np").images[0]
    assert np.abs(out.astype(int) - logic.to_uint8(expected).astype(int)).max() <= 1


def editor_masks_of(boxes):
    return logic.editor_masks(editor(photo(0), boxes), (SIZE, SIZE))


@pytest.mark.parametrize("boxes, point, message", [([], (10, 10), "paint what to copy"),
                                                   ([(0, 32, 0, 32)], (None, 10), "click on the photo")])
def test_copy_here_says_what_is_missing(pipe, content, boxes, point, message):
    with pytest.raises(gr.Error, match=message):
        logic.move_handler(editor(content, boxes), *point, 0, TEST_MODEL)


def test_before_after_pairs_the_photo_with_the_result(content):
    result = content[::-1].copy()
    before, after = logic.before_after(editor(content, []), result)
    assert np.array_equal(before, content) and after is result
    assert logic.before_after(None, result) is None and logic.before_after(editor(content, []), None) is None


# ---- models -----------------------------------------------------------------------------------------
def test_model_that_cannot_be_loaded_gives_a_message_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv(logic.ALLOW_LOCAL_MODELS_ENV, "1")  # the operator allows folders: the reason may name it
    with pytest.raises(gr.Error, match=f"could not load the model '{tmp_path}'"):
        run(editor(photo(0), [(0, 32, 0, 32)]), [photo(1)], model=str(tmp_path))


def test_models_are_loaded_once_and_cached(monkeypatch):
    loads = []
    monkeypatch.setattr(logic, "load_pipeline", lambda name: loads.append(name) or tiny_pipe())
    cache = logic.ModelCache()
    assert cache.get("some/model") is cache.get(" some/model ")
    assert cache.get("") is cache.get(logic.DEFAULT_MODEL)
    assert loads == ["some/model", logic.DEFAULT_MODEL]


def saved_model(folder) -> str:
    tiny_pipe().save_pretrained(folder)
    return str(folder)


def same_weights(a: TCPPipeline, b: TCPPipeline) -> None:
    for model_a, model_b in ((a.encoder, b.encoder), (a.generator, b.generator)):
        for pa, pb in zip(model_a.state_dict().values(), model_b.state_dict().values(), strict=True):
            assert torch.equal(pa, pb)


def refusal(model) -> str:
    with pytest.raises(gr.Error) as info:
        run(editor(photo(0), [(0, 32, 0, 32)]), [photo(1)], model=model)
    return info.value.message


def test_local_folders_are_refused_by_default_with_one_message_that_reveals_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(logic.ALLOW_LOCAL_MODELS_ENV, "0")
    monkeypatch.setattr(logic, "download_from_hub", lambda repo_id: pytest.fail(f"{repo_id} sent to the Hub"))
    bad_json = tmp_path / "bad"
    bad_json.mkdir()
    (bad_json / "model_index.json").write_text("{not json")
    names = [saved_model(tmp_path / "model"), str(tmp_path / "missing"), str(bad_json), str(tmp_path), "~",
             "~/.cache", "/root/.cache", "/", "../..", "./model"]
    messages = {refusal(name) for name in names}
    assert messages == {logic.MODEL_REFUSED}
    assert str(tmp_path) not in logic.MODEL_REFUSED and "/root" not in logic.MODEL_REFUSED


def test_a_repo_id_comes_from_the_hub_even_when_a_folder_has_its_name(tmp_path, monkeypatch):
    monkeypatch.setenv(logic.ALLOW_LOCAL_MODELS_ENV, "0")
    monkeypatch.chdir(tmp_path)
    saved_model(tmp_path / "owner" / "model")  # a folder spelled like a repo id, relative to the server's cwd
    asked = []

    def not_on_the_hub(repo_id):
        asked.append(repo_id)
        raise OSError(f"404 Not Found: {tmp_path}/.cache/huggingface/{repo_id}")

    monkeypatch.setattr(logic, "download_from_hub", not_on_the_hub)
    assert refusal("owner/model") == logic.MODEL_REFUSED
    assert asked == ["owner/model"]
    # a repo that the Hub has is loaded from its download
    monkeypatch.setattr(logic, "download_from_hub", lambda repo_id: saved_model(tmp_path / "hub" / repo_id))
    same_weights(logic.load_pipeline("someone/tcp-model"), tiny_pipe())


def test_local_folder_loads_only_when_the_environment_allows_it(tmp_path, monkeypatch):
    folder = saved_model(tmp_path / "model")
    monkeypatch.setenv(logic.ALLOW_LOCAL_MODELS_ENV, "0")
    with pytest.raises(logic.InputError) as refused:
        logic.load_pipeline(folder)
    assert str(refused.value) == logic.MODEL_REFUSED
    monkeypatch.setenv(logic.ALLOW_LOCAL_MODELS_ENV, "1")
    same_weights(logic.load_pipeline(folder), tiny_pipe())


def test_model_cache_keeps_only_the_most_recently_used_models(monkeypatch):
    loads = []
    monkeypatch.setattr(logic, "load_pipeline", lambda name: loads.append(name) or object())
    cache = logic.ModelCache()
    assert cache.size == logic.MODEL_CACHE_SIZE == 3
    first = cache.get("a/one")
    cache.get("a/two"), cache.get("a/three")
    assert cache.get("a/one") is first  # used again: now the most recent
    cache.get("a/four")  # the least recently used, a/two, goes
    assert cache.names() == ["a/three", "a/one", "a/four"]
    cache.get("a/two")
    assert loads == ["a/one", "a/two", "a/three", "a/four", "a/two"]


def test_default_model_falls_back_to_a_random_small_model_with_a_notice(monkeypatch, tmp_path, caplog):
    monkeypatch.setitem(logic.BUNDLED_MODELS, logic.DEFAULT_MODEL, tmp_path / "missing")
    with caplog.at_level(logging.WARNING, logger=logic.__name__):
        pipe = logic.load_pipeline(logic.DEFAULT_MODEL)
    small = build_models(logic.FALLBACK_PRESET)[0]
    assert pipe.encoder.config.style_dim == small.config.style_dim
    assert "randomly initialised" in caplog.text
    assert "randomly initialised" in logic.model_notice()


# ---- region suggestion ------------------------------------------------------------------------------
def stripes_and_grass() -> np.ndarray:
    """Two striped bands (x < 40 and x >= 88) on flat green."""
    stripes = np.stack([0.5 + 0.4 * np.sin(0.5 * _xx), 0.3 + 0 * _xx, 0.5 + 0.4 * np.cos(0.5 * _xx)], -1)
    img = np.zeros((SIZE, SIZE, 3), np.uint8)
    img[:] = (40, 160, 60)
    stripes = (stripes * 255).astype(np.uint8)
    img[:, :40], img[:, 88:] = stripes[:, :40], stripes[:, 88:]
    return img


def suggest(pipe, image, x, y, threshold, connected):
    """The pipeline's suggestion as the app asks for it."""
    return pipe.suggest_region(image, (x, y), threshold, connected, resolution=logic.WORKING_SIZE, output_type="np")


def test_click_suggests_the_similar_connected_area(pipe):
    img = stripes_and_grass()
    mask = suggest(pipe, img, 10, 64, 0.8, True)
    assert mask.shape == (SIZE, SIZE) and mask.dtype == np.uint8
    assert (mask[:, :32] == 255).mean() > 0.95  # the clicked band
    assert (mask[:, 48:] == 0).all()  # grass and the other band


def test_unconnected_suggestion_also_finds_the_other_band(pipe):
    mask = suggest(pipe, stripes_and_grass(), 10, 64, 0.8, False)
    assert (mask[:, 96:] == 255).mean() > 0.9
    assert (mask[:, 48:80] == 0).all()


def test_higher_threshold_never_grows_the_suggestion(pipe):
    img = photo(0)
    sizes = [(suggest(pipe, img, 64, 64, t, False) > 0).sum() for t in (-1.0, 0.5, 0.9, 1.0)]
    assert sizes[0] == SIZE * SIZE
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] >= 1


def test_suggest_handler_returns_preview_and_mask_and_checks_the_click(pipe):
    edit = editor(stripes_and_grass(), [])
    preview, mask = logic.suggest_handler(edit, 10, 64, 0.8, True, "region 2", TEST_MODEL)
    assert preview.shape == (SIZE, SIZE, 3)
    tinted = preview[5, 20].astype(int)  # inside: half photo, half region 2's colour
    expected = (stripes_and_grass()[5, 20].astype(int) + np.array(logic.REGION_COLORS[1])) // 2
    assert np.abs(tinted - expected).max() <= 1
    assert np.array_equal(preview[5, 100], stripes_and_grass()[5, 100]) or mask[5, 100] > 0
    with pytest.raises(gr.Error, match=r"the point \(500, 64\) is outside the image"):
        logic.suggest_handler(edit, 500, 64, 0.8, True, "region 1", TEST_MODEL)


def test_accepting_a_suggestion_paints_it_into_the_chosen_layer_and_keeps_the_others(pipe, content):
    edit = editor(content, [(0, 10, 0, 10)])
    suggestion = np.zeros((SIZE, SIZE), np.uint8)
    suggestion[50:70, 50:70] = 255
    new = logic.accept_handler(edit, suggestion, "region 2")
    assert len(new["layers"]) == logic.NUM_REGIONS
    assert np.array_equal(new["layers"][0], edit["layers"][0])
    stroke = round(255 * logic.BRUSH_OPACITY)  # painted like a brush stroke
    assert (new["layers"][1][50:70, 50:70, 3] == stroke).all() and new["layers"][1][..., 3].sum() == 400 * stroke
    assert (new["layers"][1][60, 60, :3] == logic.REGION_COLORS[1]).all()
    assert (new["layers"][2][..., 3] == 0).all()
    alpha = stroke / 255  # the editor shows the photo through the paint
    shown = (1 - alpha) * content[60, 60] + alpha * np.array(logic.REGION_COLORS[1])
    assert np.abs(new["composite"][60, 60, :3] - shown).max() <= 1
    # the accepted region is then restyled like a painted one
    out = run(new, [photo(1), photo(2)])
    assert diff(out, run(edit, [photo(1)]))[55:65, 55:65].mean() > CHANGED


def test_accept_without_suggestion_asks_for_a_click(pipe, content):
    with pytest.raises(gr.Error, match="click on the photo first"):
        logic.accept_handler(editor(content, []), None, "region 1")
