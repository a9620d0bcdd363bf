import pytest
import torch

from initlab.models import build_model, conv_layers, count_parameters, model_names


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


def test_seeded_build_is_reproducible_and_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b = build_model("tiny_cnn", 10, seed=1), build_model("tiny_cnn", 10, seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a[0].weight, b[0].weight)
    assert not torch.equal(a[0].weight, build_model("tiny_cnn", 10, seed=2)[0].weight)
    torch.manual_seed(1)  # the seeded draw is what an unseeded build gives under that seed
    assert torch.equal(a[0].weight, build_model("tiny_cnn", 10)[0].weight)


@pytest.mark.parametrize("name, in_channels, size, expected", [
    ("lenet5", 3, 32, 62_006),
    ("simple_cnn", 1, 28, 813_802),
    ("reduced_alexnet", 3, 32, 6_199_498),
])
def test_small_cnns_have_the_studies_parameter_counts(name, in_channels, size, expected):
    model = build_model(name, 10, in_channels=in_channels, image_size=size)
    assert count_parameters(model) == expected
    assert model(torch.zeros(2, in_channels, size, size)).shape == (2, 10)


def test_resnet18_is_torchvisions_layout_and_computes_the_same_function():
    import torchvision

    ours, theirs = build_model("resnet18", 10, 3), torchvision.models.resnet18(num_classes=10)
    assert count_parameters(ours) == 11_181_642
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 3, 32, 32)
    assert torch.allclose(ours.eval()(x), theirs.eval()(x), atol=1e-6)


def test_resnet18_conv_order_cifar_stem_and_custom_variant():
    from initlab.models.resnet import resnet_conv_layers

    model = build_model("resnet18", 10, 3, width=0.25, stem="cifar")
    names = [n for n, _ in resnet_conv_layers(model)]
    assert len(names) == 17 and names[:3] == ["conv1", "layer1.0.conv1", "layer1.0.conv2"]
    assert names[-1] == "layer4.1.conv2"
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    custom = build_model("resnet18", 10, 3, width=0.25, stem="cifar", custom=True)
    custom.load_state_dict(model.state_dict())
    assert [b.residual for b in custom.layer1] == [False, False]
    assert all(b.residual for b in custom.layer2)
    x = torch.randn(2, 3, 32, 32)
    assert not torch.allclose(custom.eval()(x), model.eval()(x))


@pytest.mark.parametrize("name", ["vgg11", "vgg19"])
def test_vgg_matches_torchvision_at_224_and_has_a_small_head_at_32(name):
    import torchvision

    ours, theirs = build_model(name, 1000, 3, image_size=224), getattr(torchvision.models, name)()
    assert count_parameters(ours) == count_parameters(theirs)
    ours.load_state_dict(theirs.state_dict())
    small = build_model(name, 10, 3, width=0.25)
    assert small(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert small.penultimate(torch.zeros(2, 3, 32, 32)).shape == (2, 128)


def test_vgg19_with_torchvisions_head_on_32x32_has_torchvisions_parameter_count():
    """Study 05's paper VGG19: torchvision's model on 32x32 inputs (the 7x7 pool repeats the
    1x1 map), so ImageNet weights load. Counted on the meta device: nothing is downloaded."""
    with torch.device("meta"):
        imagenet = build_model("vgg19", 1000, 3, image_size=32, head="torchvision")
        ten = build_model("vgg19", 10, 3, head="torchvision")
        small = build_model("vgg19", 10, 3, head="small")
        assert count_parameters(imagenet) == 143_667_240
        assert count_parameters(ten) == 139_611_210
        assert count_parameters(small) == count_parameters(build_model("vgg19", 10, 3))
        assert count_parameters(small) == 20_554_826  # 512-wide head
        assert count_parameters(build_model("vgg11", 10, 3)) == 9_750_922  # unchanged default
        assert count_parameters(build_model("vgg11", 10, 3, image_size=224)) == 128_807_306
    narrow = build_model("vgg19", 10, 3, width=0.0625, head="torchvision")
    assert narrow(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert narrow.penultimate(torch.zeros(2, 3, 32, 32)).shape == (2, 256)
    assert narrow.avgpool.output_size == 7
    with pytest.raises(ValueError, match="head"):
        build_model("vgg19", 10, 3, head="wide")


def test_imagenet_weights_offline_say_what_to_do(monkeypatch):
    import urllib.error

    import torchvision

    from initlab.models import pretrained

    def offline(self, *args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torchvision.models.WeightsEnum, "get_state_dict", offline)
    expected = "resnet18-.*checkpoints.*fallback"
    with pytest.raises(pretrained.WeightsUnavailableError, match=expected):
        pretrained.load_imagenet(build_model("resnet18", 10, 3), "resnet18")


def test_imagenet_weights_load_with_a_new_head(monkeypatch):
    import torchvision

    from initlab.models import pretrained

    source = torchvision.models.resnet18()  # stands in for the downloaded ImageNet weights
    monkeypatch.setattr(pretrained, "imagenet_state_dict", lambda name: source.state_dict())
    model = pretrained.load_imagenet(build_model("resnet18", 2, 3), "resnet18")
    assert torch.equal(model.conv1.weight, source.conv1.weight)
    assert model.fc.weight.shape == (2, 512)
