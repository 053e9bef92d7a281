"""Model cards and uploads to the Hugging Face Hub.

The card's text is ``tcp_hub/templates/model_card.md`` with ``{{ name }}`` placeholders (the
repository's ``MODEL_CARD.md`` is the bundled tcp-scenes model's own card, not this template);
`render_model_card` fills them and prepends the YAML front matter the Hub reads (license, tags,
``pipeline_tag: image-to-image``, ``library_name``). `create_model_repo` and
`upload_model_folder` publish a finished output folder.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from huggingface_hub import HfApi, ModelCard, ModelCardData

TEMPLATE_PATH = Path(__file__).resolve().parent / "templates" / "model_card.md"
LIBRARY_NAME = "tcp-hub"
TAGS = ["tcp-hub", "image-to-image", "style-transfer", "region-editing", "swapping-autoencoder"]
# Training leftovers that stay out of an upload.
UPLOAD_IGNORE = ["checkpoint-*/**", ".tmp-checkpoint-*/**", "logs/**", "samples/**"]

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@dataclass
class CardInfo:
    """What a model card says about a training run.

    Attributes:
        repo_id: the Hub id the card tells users to load (``user/name``).
        data: human-readable description of the training data.
        losses: ``(term, weight)`` pairs actually used.
        metrics: metric name -> value, when an evaluation has been run.
        datasets: Hub dataset ids for the front matter.
        init_from: the model whose weights this run started from ("" for a run from scratch); steps
            and images seen count this run only.
    """

    repo_id: str
    data: str
    resolution: int
    preset: str
    parameters: int
    steps: int
    images_seen: int
    global_batch: int
    mixed_precision: str
    ablation: str
    ema: bool
    losses: Sequence[tuple]
    license: str = "apache-2.0"
    metrics: Dict[str, float] = field(default_factory=dict)
    datasets: List[str] = field(default_factory=list)
    init_from: str = ""


def fill_template(template: str, values: Dict[str, object]) -> str:
    """Replace every ``{{ name }}`` in ``template``; a placeholder without a value is an error."""
    missing = sorted({m.group(1) for m in _PLACEHOLDER.finditer(template)} - set(values))
    if missing:
        raise KeyError(f"model card template needs values for {missing}")
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template)


def _losses_table(losses: Sequence[tuple]) -> str:
    rows = ["| term | weight |", "|---|---|"] + [f"| {name} | {weight:g} |" for name, weight in losses]
    return "\n".join(rows)


def _metrics_text(metrics: Dict[str, float]) -> str:
    if not metrics:
        return "No metrics were computed for these weights yet."
    rows = ["| metric | value |", "|---|---|"] + [f"| {k} | {v:.4g} |" for k, v in metrics.items()]
    return "\n".join(rows)


def card_data(info: CardInfo) -> ModelCardData:
    """The card's front matter."""
    tags = TAGS + (["tcp"] if info.ablation == "tcp" else [])
    return ModelCardData(license=info.license, library_name=LIBRARY_NAME, pipeline_tag="image-to-image",
                         tags=tags, datasets=list(info.datasets) or None)


def render_model_card(info: CardInfo, template: Optional[str] = None) -> ModelCard:
    """Fill the template (``tcp_hub/templates/model_card.md`` by default) and add the front matter."""
    if template is None:
        template = TEMPLATE_PATH.read_text(encoding="utf-8")
    method = "TCP (Swapping Autoencoder + code consistency + content alignment)" if info.ablation == "tcp" \
        else "Swapping Autoencoder"
    values = {
        "title": f"{info.repo_id.split('/')[-1]}: {'TCP' if info.ablation == 'tcp' else 'Swapping Autoencoder'} "
                 f"at {info.resolution} px",
        "method": method,
        "repo_id": info.repo_id,
        "data": info.data,
        "resolution": info.resolution,
        "preset": info.preset,
        "parameters": f"{info.parameters / 1e6:.1f} M" if info.parameters >= 1e5 else f"{info.parameters:,}",
        "steps": f"{info.steps:,}" + (f" (this run; it started from the weights of `{info.init_from}`)"
                                      if info.init_from else ""),
        "images_seen": f"{info.images_seen:,}",
        "global_batch": info.global_batch,
        "mixed_precision": "fp32" if info.mixed_precision in ("no", None) else info.mixed_precision,
        "weights": "exponential moving average of encoder and generator" if info.ema else "last training step",
        "losses": _losses_table(info.losses),
        "metrics": _metrics_text(info.metrics),
    }
    body = fill_template(template, values)
    return ModelCard(f"---\n{card_data(info).to_yaml()}\n---\n\n{body}")


def write_model_card(folder, info: CardInfo, template: Optional[str] = None) -> Path:
    """Write ``folder/README.md``."""
    path = Path(folder) / "README.md"
    render_model_card(info, template).save(path)
    return path


def create_model_repo(repo_id: str, private: bool = False, token: Optional[str] = None) -> str:
    """Create the model repo if it does not exist; returns its full id (with the user's namespace)."""
    return HfApi(token=token).create_repo(repo_id=repo_id, repo_type="model", private=private, exist_ok=True).repo_id


def upload_model_folder(folder, repo_id: str, token: Optional[str] = None,
                        commit_message: str = "Upload TCP model"):
    """Upload a finished output folder (checkpoints, logs and sample grids stay out)."""
    return HfApi(token=token).upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="model",
                                            commit_message=commit_message, ignore_patterns=UPLOAD_IGNORE)
