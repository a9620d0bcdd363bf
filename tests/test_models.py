import pytest
import torch

from initlab.models import build_model, conv_layers, count_parameters, fresh_copy, model_names


def test_tiny_cnn_has_the_papers_parameter_count():
    model = build_model("tiny_cnn", num_classes=10, in_channels=1)
    # conv 1->2: 2*9+2 = 20; conv 2->4: 4*18+4 = 76; linear 196->16: 3152; 16->10: 170
    assert count_parameters(model) == 3418
    assert model(torch.zeros(5, 1, 28, 28)).shape == (5, 10)


def test_tiny_cnn_follows_image_size_and_channels():
    model = build_model("tiny_cnn", num_classes=3, in_channels=3, image_size=32)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 3)
    assert [name for name, _ in conv_layers(model)] == ["0", "3"]


def test_unknown_model_names_the_choices():
    with pytest.raises(ValueError, match="tiny_cnn"):
        build_model("tiny_cnnn", num_classes=10)
    assert "tiny_cnn" in model_names()


def test_fresh_copy_redraws_parameters_without_touching_global_rng():
    model = build_model("tiny_cnn", 10)
    state = torch.random.get_rng_state()
    a, b = fresh_copy(model, seed=1), fresh_copy(model, seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a[0].weight, b[0].weight)
    assert not torch.equal(a[0].weight, model[0].weight)


@pytest.mark.parametrize("name, in_channels, size, expected", [
    ("lenet5", 3, 32, 62_006),
    ("simple_cnn", 1, 28, 813_802),
    ("reduced_alexnet", 3, 32, 6_199_498),
])
def test_small_cnns_have_the_studies_parameter_counts(name, in_channels, size, expected):
    model = build_model(name, 10, in_channels=in_channels, image_size=size)
    assert count_parameters(model) == expected
    assert model(torch.zeros(2, in_channels, size, size)).shape == (2, 10)
