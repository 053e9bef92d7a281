"""tcp-hub demo: restyle painted regions of a photo with the look of reference photos.

Run locally with ``python app.py`` (then open http://127.0.0.1:7860). The work is done by
``tcp_hub.app_logic``; this file lays out the page and connects the handlers.

The Model box loads the bundled models and Hub repo ids (``owner/name``) only. To let it load model
folders on this machine as well (only where you trust everyone who can reach the page), start the app
with ``python app.py --allow-local-models`` or set the environment variable
``TCP_HUB_ALLOW_LOCAL_MODELS=1``.
"""

import argparse
import os
from pathlib import Path

import gradio as gr
import torch

from tcp_hub import app_logic as logic

EXAMPLES_DIR = Path(__file__).parent / "examples"
LAUNCH_OPTIONS = dict(max_file_size=logic.MAX_FILE_SIZE, js=logic.PAGE_JS)


def _examples(defaults: dict):
    """Rows for `gr.Examples` in the order of `logic.STYLIZE_INPUTS`: what each example sets, the page's
    ``defaults`` (each input's starting value) for the rest."""
    def editor(name, regions):
        photo = str(EXAMPLES_DIR / f"{name}.jpg")
        layers = [str(EXAMPLES_DIR / f"{name}_region{i + 1}.png") for i in range(regions)]
        return {"background": photo, "layers": layers,
                "composite": str(EXAMPLES_DIR / f"{name}_composite.png") if regions else photo}

    ref = {k: str(EXAMPLES_DIR / f"ref_{k}.jpg") for k in ("sunset", "snow", "forest", "petra", "polar_bear")}
    examples = [  # real photos first (examples/PHOTO_CREDITS.md), then drawn scenes with up to three regions
        dict(editor=editor("pig", 1), reference_1=ref["petra"], feather=4),
        dict(editor=editor("baths", 2), reference_1=ref["petra"], reference_2=ref["polar_bear"], feather=4,
             show_outlines=True),
        dict(editor=editor("pig", 0), reference_1=ref["polar_bear"], mode=logic.MODE_WHOLE),
        dict(editor=editor("valley", 3), reference_1=ref["sunset"], reference_2=ref["snow"],
             reference_3=ref["forest"], strength_2=0.8, show_outlines=True),
        dict(editor=editor("room", 2), reference_1=ref["forest"], reference_2=ref["snow"], feather=2,
             show_outlines=True),
        dict(editor=editor("room", 0), reference_1=ref["sunset"], strength_1=0.7, mode=logic.MODE_WHOLE, feather=0),
    ]
    return [[example.get(name, defaults[name]) for name in logic.STYLIZE_INPUTS] for example in examples]


defaults = logic.STYLIZE_DEFAULTS  # the page's controls start at the /stylize endpoint's defaults

with gr.Blocks(title="tcp-hub: region-wise style swaps", analytics_enabled=False,
               delete_cache=logic.CACHE_CLEANUP) as demo:
    gr.Markdown("# tcp-hub: give painted regions of a photo the look of other photos\n"
                "Upload a photo, paint up to three regions (one layer each), give each region a style "
                "reference, and press **Run**. Or choose *whole image* to restyle everything with reference 1.")
    notice = logic.model_notice()
    if notice:
        gr.Markdown(notice)
    with gr.Row():
        with gr.Column():
            editor = logic.CheckedImageEditor(
                label="Content photo (paint regions on the layers)", type="numpy", format="png", elem_id="editor",
                sources=("upload", "clipboard"), transforms=(), image_mode="RGBA",
                brush=gr.Brush(colors=[(logic.rgb_css(c), logic.BRUSH_OPACITY) for c in logic.REGION_COLORS],
                               color_mode="fixed"),
                eraser=gr.Eraser(),
                layers=gr.LayerOptions(layers=list(logic.REGION_NAMES), allow_additional_layers=False),
            )
            gr.HTML("", elem_id="editor-message")  # filled by logic.PAGE_JS in the page
        with gr.Column():
            output = logic.ResultImage(label="Result", type="numpy", format="png", interactive=False,
                                       buttons=["download", "fullscreen"], elem_id="result")
            compare = gr.ImageSlider(label="Before / after (drag the handle)", type="numpy", interactive=False,
                                     elem_id="compare")
    with gr.Row():
        mode = gr.Radio(logic.MODES, value=defaults["mode"], label="Edit")
        run = gr.Button("Run", variant="primary", elem_id="run")
    with gr.Row():
        references, strengths = [], []
        for i, name in enumerate(logic.REGION_NAMES):
            with gr.Column(min_width=160):
                label = f"Style reference for {name}" + (" (and the whole image)" if i == 0 else "")
                references.append(logic.CheckedImage(label=label, type="numpy", sources=("upload", "clipboard"),
                                                     elem_id=f"reference-{i + 1}"))
                strengths.append(gr.Slider(0, 1, value=defaults[f"strength_{i + 1}"], step=0.05,
                                           label=f"Strength for {name}"))
    with gr.Row():
        feather = gr.Slider(0, 20, value=defaults["feather"], step=0.5, label="Feather (px, softens region edges)")
        seed = gr.Number(value=defaults["seed"], precision=0, minimum=logic.NO_NOISE,
                         label=f"Noise seed ({logic.NO_NOISE}: no noise; same seed, same result)")
        show_outlines = gr.Checkbox(value=defaults["show_outlines"], label="Outline painted regions on the result")
        model = gr.Textbox(value=defaults["model"], label="Model",
                           placeholder=f"{logic.DEFAULT_MODEL} (bundled) or a Hub repo id (owner/name)")
    with gr.Row():
        texture = gr.Slider(0, 1, value=defaults["texture"], step=0.05,
                            label="Texture (0: the photo itself, recoloured; 1: the model repaints it, reference "
                                  "textures included)")
        detail = gr.Slider(0, 1, value=defaults["detail"], step=0.05,
                           label="Detail (how much of the photo's fine detail goes back onto the model's painting)")
        keep_unedited = gr.Checkbox(value=defaults["keep_unedited"],
                                    label="Keep the photo untouched outside the painted regions")

    with gr.Accordion("Take a style from part of its reference (optional masks)", open=False):
        gr.Markdown("A mask for a reference (white, or painted on a transparent layer, where the style should come "
                    "from; the reference's size) takes that region's style from the painted part only, e.g. one "
                    "wall of the reference. No mask: the whole reference.")
        with gr.Row():
            style_masks = [gr.Image(label=f"Mask on the reference for {name}", type="numpy", image_mode=None,
                                    sources=("upload", "clipboard"), elem_id=f"style-mask-{i + 1}")
                           for i, name in enumerate(logic.REGION_NAMES)]

    with gr.Accordion("Suggest a region by clicking on the photo", open=False) as suggest_box:
        gr.Markdown("Click a point: the app proposes the area whose content looks alike. Adjust the threshold, "
                    "then add it to a region's layer and refine it with the brush or eraser.")
        with gr.Row():
            click_image = gr.Image(label="Click here", type="numpy", interactive=False, format="png")
            suggestion_mask = gr.Image(label="Suggested mask", type="numpy", image_mode="L", format="png",
                                       interactive=False)
        with gr.Row():
            threshold = gr.Slider(-1, 1, value=0.8, step=0.01, label="Similarity threshold")
            connected = gr.Checkbox(value=True, label="Only the part connected to the click")
            region = gr.Radio(list(logic.REGION_NAMES), value=logic.REGION_NAMES[0], label="Add to")
        with gr.Row():
            x = gr.Number(value=None, label="x", precision=0)
            y = gr.Number(value=None, label="y", precision=0)
            suggest = gr.Button("Suggest")
            accept = gr.Button("Add suggestion to region", variant="secondary")

    with gr.Accordion("Copy painted content to another place", open=False) as move_box:
        gr.Markdown("Paint what to copy on the layer of region 1, then click where its centre should go and press "
                    "**Copy here**. The copy takes on the photo's look; it moves in steps of 1/16 of the working "
                    "size.")
        with gr.Row():
            move_image = gr.Image(label="Click the new place", type="numpy", interactive=False, format="png")
            with gr.Column():
                move_x = gr.Number(value=None, label="x", precision=0)
                move_y = gr.Number(value=None, label="y", precision=0)
                move = gr.Button("Copy here", variant="secondary", elem_id="move")

    named = dict(editor=editor, mode=mode, feather=feather, seed=seed, show_outlines=show_outlines, model=model,
                 detail=detail, keep_unedited=keep_unedited, texture=texture,
                 **{f"reference_{i + 1}": c for i, c in enumerate(references)},
                 **{f"strength_{i + 1}": c for i, c in enumerate(strengths)},
                 **{f"style_mask_{i + 1}": c for i, c in enumerate(style_masks)})
    stylize_inputs = [named[name] for name in logic.STYLIZE_INPUTS]  # the /stylize API's parameters, in order
    run.click(logic.stylize_handler, stylize_inputs, output, api_name="stylize")
    move.click(logic.move_handler, [editor, move_x, move_y, feather, model, detail], output, api_name="move_content")
    output.change(logic.before_after, [editor, output], compare, api_visibility="private")

    suggest_inputs = [editor, x, y, threshold, connected, region, model]
    suggest.click(logic.suggest_handler, suggest_inputs, [click_image, suggestion_mask], api_name="suggest_region")
    click_image.select(logic.click_point, None, [x, y], queue=False, api_visibility="private").then(
        logic.suggest_handler, suggest_inputs, [click_image, suggestion_mask], api_visibility="private")
    accept.click(logic.accept_handler, [editor, suggestion_mask, region], editor, api_name="accept_region")
    move_image.select(logic.click_point, None, [move_x, move_y], queue=False, api_visibility="private")
    # The clicking panels get the photo when they are opened, not on every upload: each event that reads the
    # editor sends all its layers back, and the editor raises "upload" some twenty times while an example
    # loads (a second example click took 23-54 s with upload listeners, 5-7 s without).
    suggest_box.expand(logic.photo_for_clicking, editor, click_image, api_visibility="private")
    move_box.expand(logic.photo_for_clicking, editor, move_image, api_visibility="private")

    EXAMPLE_ROWS = _examples({name: component.value for name, component in named.items()})
    gr.Examples(EXAMPLE_ROWS, stylize_inputs, output, fn=logic.stylize_handler, run_on_click=True,
                cache_examples=False, label="Examples (click to run)")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve the tcp-hub demo (http://127.0.0.1:7860).")
    parser.add_argument("--allow-local-models", action="store_true",
                        help="let the Model box load model folders on this machine, not only bundled names and "
                             f"Hub repo ids (same as {logic.ALLOW_LOCAL_MODELS_ENV}=1); only where you trust "
                             "everyone who can reach the page")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads per edit (default: torch's, one per core; on a busy 2-core machine "
                             "that beat 1 thread also with two edits at once, benchmarks/RESULTS.md)")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.allow_local_models:
        os.environ[logic.ALLOW_LOCAL_MODELS_ENV] = "1"
    if args.threads:
        torch.set_num_threads(args.threads)
    demo.queue(default_concurrency_limit=logic.CONCURRENCY_LIMIT).launch(**LAUNCH_OPTIONS)


if __name__ == "__main__":
    main()
