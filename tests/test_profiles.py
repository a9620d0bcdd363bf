import pytest

from initlab import profiles
from initlab.studies.warm_start.settings import WarmStartSettings


def test_profiles_differ_only_where_they_say():
    paper = profiles.load("01_warm_start", "paper")
    assert paper == WarmStartSettings()
    assert paper.dataset == "mnist" and paper.iterations == 10 and len(paper.noises) == 6
    assert profiles.load("01_warm_start", "smoke").dataset == "digits"


def test_overrides_are_coerced_from_cli_strings():
    cfg = profiles.load("01_warm_start", "quick", iterations="2", lr="0.01",
                        noises="blur,gaussian", dataset="fashion_mnist")
    assert cfg.iterations == 2 and cfg.lr == 0.01 and cfg.noises == ("blur", "gaussian")
    one = profiles.load("02_clustered_init", "smoke", gabor_layers=1, sweep_clusters="2,3")
    assert one.gabor_layers == (1,) and one.sweep_clusters == (2, 3)  # `-p gabor_layers 1`
    with pytest.raises(TypeError, match="wants a list"):
        profiles.load("02_clustered_init", "smoke", gabor_layers={"a": 1})


def test_bad_overrides_name_the_valid_choices():
    with pytest.raises(ValueError, match="valid names: dataset"):
        profiles.load("01_warm_start", "smoke", iteration=3)
    with pytest.raises(TypeError, match="'iterations' wants a whole number"):
        profiles.load("01_warm_start", "smoke", iterations="many")
    with pytest.raises(TypeError, match="wants a whole number"):
        profiles.load("01_warm_start", "smoke", epochs=1.5)
    with pytest.raises(ValueError, match="smoke, quick, paper"):
        profiles.load("01_warm_start", "fast")
    with pytest.raises(ValueError, match="01_warm_start"):
        profiles.load("01_warmstart", "smoke")


def test_settings_are_frozen():
    cfg = profiles.load("01_warm_start", "smoke")
    with pytest.raises(AttributeError):
        cfg.lr = 1.0
