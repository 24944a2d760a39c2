"""Learning PyTorch with Examples (older edition): TwoLayerNet as an nn.Module, MSELoss(sum), Adam."""
import numpy as np

import chainrule as torch


class TwoLayerNet(torch.nn.Module):
    def __init__(self, D_in, H, D_out):
        super(TwoLayerNet, self).__init__()
        self.linear1 = torch.nn.Linear(D_in, H)
        self.linear2 = torch.nn.Linear(H, D_out)

    def forward(self, x):
        h_relu = self.linear1(x).clamp(min=0)
        return self.linear2(h_relu)


N, D_in, H, D_out = 32, 50, 40, 5
rng = np.random.default_rng(0)
x = torch.from_numpy(rng.normal(size=(N, D_in)).astype(np.float32))
y = torch.from_numpy(rng.normal(size=(N, D_out)).astype(np.float32))

model = TwoLayerNet(D_in, H, D_out)
state = {name: torch.from_numpy(rng.uniform(-0.1, 0.1, tuple(p.shape)).astype(np.float32))
         for name, p in model.state_dict().items()}
model.load_state_dict(state)                      # the same start in every library
criterion = torch.nn.MSELoss(reduction='sum')
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
losses = []
for t in range(100):
    y_pred = model(x)
    loss = criterion(y_pred, y)
    losses.append(loss.item())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
assert losses[-1] < losses[0] / 2
print("RESULT final_loss", losses[-1])
print("RESULT bias_sum", model.linear2.bias.sum().item())
