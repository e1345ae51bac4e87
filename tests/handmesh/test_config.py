"""The config system: defaults <- YAML <- key=value overrides, with named errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from handmesh.config import Config, config_from_dict, config_to_dict, load_config, save_config
from handmesh.errors import ConfigError, MissingFileError


def test_defaults_yaml_then_overrides_in_that_order(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  variant: fastvit_sa12\noptim:\n  lr: 0.001\n  epochs: 5\n")
    cfg = load_config(path, ["optim.lr=2e-4", "data.versions=[gs, hom]", "optim.ema_decay=0.999"])
    assert cfg.model.variant == "fastvit_sa12"  # from YAML
    assert cfg.optim.epochs == 5  # from YAML
    assert cfg.optim.lr == pytest.approx(2e-4)  # override beats YAML
    assert cfg.data.versions == ["gs", "hom"]
    assert cfg.optim.ema_decay == pytest.approx(0.999)
    assert cfg.model.input_size == Config().model.input_size  # untouched default


def test_unknown_key_names_it_and_the_closest_valid_key(tmp_path):
    with pytest.raises(ConfigError, match=r"'optim\.lr_rate'.*did you mean 'optim\.lr'"):
        load_config(None, ["optim.lr_rate=0.1"])
    path = tmp_path / "bad.yaml"
    path.write_text("modle:\n  variant: fastvit_t8\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*'modle'.*'model'"):
        load_config(path)


@pytest.mark.parametrize(
    "override, pattern",
    [
        ("optim.lr=fast", r"optim\.lr = 'fast': expected float"),
        ("train.compile=3", r"train\.compile = 3: expected true or false"),
        ("data.batch_size=2.5", r"data\.batch_size = 2\.5: expected int"),
        ("data.versions=gs", r"data\.versions = 'gs': expected a list of str or null"),
        ("data.versions=[gs, 3]", r"data\.versions = \['gs', 3\]: expected a list of str or null"),
        ("data.val_seed=0.5", r"data\.val_seed = 0\.5: expected int"),
        ("optim.lr", r"expected key=value"),
        ("optim.lr=.nan", r"optim\.lr = nan: expected a finite number"),  # once a torch traceback
        ("optim.lr=.inf", r"optim\.lr = inf: expected a finite number"),
        ("loss.joints3d=-.inf", r"loss\.joints3d = -inf: expected a finite number"),
    ],
)
def test_wrong_types_are_named(override, pattern):
    with pytest.raises(ConfigError, match=pattern):
        load_config(None, [override])


def test_int_is_accepted_for_float_and_null_for_optional():
    cfg = load_config(None, ["optim.lr=1", "optim.clip_grad=null"])
    assert isinstance(cfg.optim.lr, float) and cfg.optim.lr == 1.0
    assert cfg.optim.clip_grad is None


def test_versions_default_to_all_on_disk_and_take_null():
    assert Config().data.versions is None  # None: every FreiHAND image version found on disk
    assert load_config(None, ["data.versions=[gs, hom]", "data.versions=null"]).data.versions is None
    assert Config().data.val_seed == 0
    assert load_config(None, ["data.val_seed=3"]).data.val_seed == 3


def test_shipped_recipes_load_and_keep_their_versions():
    from pathlib import Path

    configs = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))
    assert configs, "no recipes found in configs/"
    for path in configs:
        cfg = load_config(path)
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert cfg.data.versions == raw.get("data", {}).get("versions"), path.name


def test_missing_file_is_named(tmp_path):
    with pytest.raises(MissingFileError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_saved_config_round_trips(tmp_path):
    cfg = load_config(None, ["model.variant=fastvit_s12", "data.augment.rotation_deg=45"])
    save_config(cfg, tmp_path / "config.yaml")
    again = load_config(tmp_path / "config.yaml")
    assert again == cfg
    assert config_from_dict(yaml.safe_load((tmp_path / "config.yaml").read_text())) == cfg
    assert config_from_dict(config_to_dict(cfg)) == cfg


def test_eval_cli_takes_the_validation_carve_out_and_framing_from_the_run_config(tmp_path: Path) -> None:
    from handmesh.cli.eval import _data_settings, build_parser

    cfg = tmp_path / "run.yaml"
    cfg.write_text("data:\n  root: some/where\n  val_fraction: 0.1\n  val_seed: 7\n  eval_crop_fraction: 0.9\n")
    data, fraction, seed, crop = _data_settings(
        build_parser().parse_args(["--predictions", "p.json", "--config", str(cfg)])
    )
    assert (str(data), fraction, seed, crop) == ("some/where", 0.1, 7, 0.9)
    args = build_parser().parse_args(
        ["--predictions", "p.json", "--config", str(cfg), "--val-seed", "2", "--crop-fraction", "0.7"]
    )
    assert _data_settings(args)[2:] == (2, 0.7)
    assert _data_settings(build_parser().parse_args(["--predictions", "p.json"]))[1:] == (0.02, 0, 1.0)


def test_every_recipe_frames_crops_as_the_live_pipeline_does() -> None:
    """Training crops are the live pipeline's framing (the keypoint box x DEFAULT_EXPAND); a recipe states the fixed
    centred fraction its evaluation images get, the input size, and small, rare occluders."""
    from handmesh.crop import DEFAULT_EXPAND

    recipes = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))
    assert len(recipes) == 4
    for recipe in recipes:
        text = recipe.read_text()
        for key in ("crop_expand:", "eval_crop_fraction:", "input_size:", "occluder_size:"):
            assert key in text, f"{recipe.name} does not state {key}"
        cfg = load_config(recipe, [])
        assert cfg.data.crop_expand == DEFAULT_EXPAND, recipe.name
        assert 0.5 <= cfg.data.eval_crop_fraction <= 1.0, recipe.name
        assert cfg.data.augment.occlusion_prob <= 0.1 and cfg.data.augment.occluder_size <= 0.25, recipe.name


def test_freihand_recipes_keep_a_pretrained_encoders_learning_rate() -> None:
    """A pretrained encoder is not trained with a linearly scaled learning rate past 5e-4."""
    recipes = sorted((Path(__file__).resolve().parents[2] / "configs").glob("fastvit_*_freihand.yaml"))
    assert len(recipes) == 3
    for recipe in recipes:
        cfg = load_config(recipe, [])
        assert cfg.model.pretrained and float(cfg.optim.lr) <= 5e-4, recipe.name
        assert cfg.loss.verts3d > 0  # and so they need training_verts.json (the trainer says so when it is missing)
