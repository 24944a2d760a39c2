"""Learn the Basics, Save and Load the Model: state_dict round trip through a file, eval mode."""
import os
import tempfile

import chainrule as torch
from chainrule import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))
x = torch.randn(4, 6)
model.eval()
before = model(x)

path = os.path.join(tempfile.mkdtemp(), "model_weights.pth")
torch.save(model.state_dict(), path)

fresh = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))
fresh.load_state_dict(torch.load(path, weights_only=True))
fresh.eval()
after = fresh(x)
assert torch.equal(before, after)
assert set(model.state_dict().keys()) == {"0.weight", "0.bias", "3.weight", "3.bias"}

# Dropout is active in training mode and the identity in eval mode.
fresh.train()
assert not torch.equal(fresh(x), after) or not torch.equal(fresh(x), after)
fresh.eval()
assert torch.equal(fresh(x), after)

# A checkpoint dict with the optimizer's state, as in the saving-a-general-checkpoint recipe.
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
model(x).sum().backward()
optimizer.step()
ckpt = os.path.join(os.path.dirname(path), "ckpt.pt")
torch.save({"epoch": 3, "model_state_dict": model.state_dict(),
            "optimizer_state_dict": optimizer.state_dict()}, ckpt)
checkpoint = torch.load(ckpt, weights_only=True)
restored = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))
restored_opt = torch.optim.SGD(restored.parameters(), lr=0.01, momentum=0.9)
restored.load_state_dict(checkpoint["model_state_dict"])
restored_opt.load_state_dict(checkpoint["optimizer_state_dict"])
assert checkpoint["epoch"] == 3
for a, b in zip(model.parameters(), restored.parameters()):
    assert torch.equal(a, b)
