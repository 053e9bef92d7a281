"""Model card and Hub upload, checked at the boundary (no network): the folder and the call arguments."""

from pathlib import Path

import pytest
import torch
import yaml
from accelerate.state import AcceleratorState
from huggingface_hub import HfApi, ModelCard
from huggingface_hub.utils import filter_repo_objects

from tcp_hub import TCPPipeline, hub
from tcp_hub.training import parse_args, train


@pytest.fixture(autouse=True)
def fresh_accelerate_state():
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


def card_info(**overrides):
    values = dict(repo_id="someone/tcp-scenes", data="a folder of 1,000 images", resolution=256, preset="small",
                  parameters=2_500_000, steps=62_500, images_seen=1_000_000, global_batch=16,
                  mixed_precision="bf16", ablation="tcp", ema=True,
                  losses=[("reconstruction L1", 1.0), ("content alignment", 1.0)], license="apache-2.0")
    values.update(overrides)
    return hub.CardInfo(**values)


def front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_template_placeholders_must_all_be_filled():
    assert hub.fill_template("{{ a }} and {{b}}", {"a": 1, "b": "two"}) == "1 and two"
    with pytest.raises(KeyError, match=r"\['b'\]"):
        hub.fill_template("{{ a }} and {{ b }}", {"a": 1})


def test_card_front_matter_and_training_facts():
    card = hub.render_model_card(card_info(datasets=["someone/scenes"]))
    meta = front_matter(str(card))
    assert meta["pipeline_tag"] == "image-to-image" and meta["library_name"] == "tcp-hub"
    assert meta["license"] == "apache-2.0" and meta["datasets"] == ["someone/scenes"]
    assert "tcp" in meta["tags"] and "swapping-autoencoder" in meta["tags"]
    text = card.text
    assert "{{" not in text
    assert 'TCPPipeline.from_pretrained("someone/tcp-scenes")' in text
    assert "| images seen | 1,000,000 (batch 16 per step) |" in text and "| optimiser steps | 62,500 |" in text
    assert "| content alignment | 1 |" in text and "exponential moving average" in text
    assert "No metrics were computed" in text


def test_card_lists_metrics_and_names_the_baseline():
    card = hub.render_model_card(card_info(ablation="swae", metrics={"FID (swap)": 21.456}, ema=False))
    assert "| FID (swap) | 21.46 |" in card.text
    assert "Swapping Autoencoder at 256 px" in card.text and "tcp" not in front_matter(str(card))["tags"]


def test_push_to_hub_creates_the_repo_and_uploads_the_finished_folder(tmp_path, monkeypatch):
    calls = {}

    class Url:
        repo_id = "someone/tcp-tiny"

    def create_repo(self, repo_id, **kwargs):
        calls["create_repo"] = dict(repo_id=repo_id, **kwargs)
        return Url()

    def upload_folder(self, **kwargs):
        calls["upload_folder"] = kwargs
        folder = Path(kwargs["folder_path"])
        files = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
        calls["uploaded"] = set(filter_repo_objects(files, ignore_patterns=kwargs["ignore_patterns"]))
        # What would be uploaded must work at this moment: the pipeline loads and the card is complete.
        calls["pipeline"] = TCPPipeline.from_pretrained(folder)
        calls["card"] = ModelCard.load(folder / "README.md")

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    out = tmp_path / "tcp-tiny"
    train(parse_args(["--dataset", "synthetic", "--synthetic_length", "16", "--preset", "tiny", "--resolution", "32",
                      "--train_batch_size", "4", "--max_train_steps", "2", "--checkpointing_steps", "1",
                      "--report_to", "none", "--sample_steps", "1", "--num_samples", "2", "--output_dir", str(out),
                      "--push_to_hub", "--hub_model_id", "tcp-tiny", "--license", "cc-by-nc-sa-4.0"]))

    assert calls["create_repo"] == dict(repo_id="tcp-tiny", repo_type="model", private=False, exist_ok=True)
    upload = calls["upload_folder"]
    assert upload["repo_id"] == "someone/tcp-tiny" and upload["repo_type"] == "model"
    assert Path(upload["folder_path"]) == out
    uploaded = calls["uploaded"]
    assert {"model_index.json", "README.md", "training_args.json", "encoder/config.json", "generator/config.json",
            "discriminators/discriminator/config.json", "discriminators/patch_discriminator/config.json"} <= uploaded
    assert not any(f.startswith(("checkpoint-", "samples/", "logs/")) for f in uploaded)
    assert (out / "checkpoint-2").is_dir() and (out / "samples").is_dir()  # kept locally
    out_image = calls["pipeline"](torch.rand(1, 3, 32, 32), style=torch.rand(1, 3, 32, 32), output_type="pt").images
    assert out_image.shape == (1, 3, 32, 32)
    card = calls["card"]
    assert card.data.license == "cc-by-nc-sa-4.0" and card.data.pipeline_tag == "image-to-image"
    assert 'from_pretrained("someone/tcp-tiny")' in card.text
