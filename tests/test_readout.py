"""comicsal.readout: structure channels (panels, text) in the comicsal readout."""
import torch

from comicsal.train import TrainConfig, train


def test_structure_channels_in_the_readout(sample, tmp_path):
    train(TrainConfig(data=str(sample), backbone="none", long_side=256, epochs=2, structure=("panels", "text")),
          tmp_path / "st", progress=False)
    from comicsal.models import load_model
    m = load_model(tmp_path / "st/model.pt")
    assert m.structure == ("panels", "text") and m.head.readout[0].ln.normalized_shape[0] == sum(m.backbone.channels) + 2
    assert m(torch.rand(1, 3, 128, 96)).shape == (1, 128, 96)
