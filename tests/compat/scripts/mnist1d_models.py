"""mnist1d's reference models: LinearBase, MLPBase, ConvBase and the bidirectional GRUBase, as that repo writes them."""
import numpy as np

import chainrule as torch
import chainrule.nn as nn


class LinearBase(nn.Module):
    def __init__(self, input_size, output_size):
        super(LinearBase, self).__init__()
        self.linear = nn.Linear(input_size, output_size)
        print("Initialized LinearBase model with {} parameters".format(self.count_params()))

    def count_params(self):
        return sum([p.view(-1).shape[0] for p in self.parameters()])

    def forward(self, x):
        return self.linear(x)


class MLPBase(nn.Module):
    def __init__(self, input_size, output_size, hidden_size=100):
        super(MLPBase, self).__init__()
        self.linear1 = nn.Linear(input_size, hidden_size)
        self.linear2 = nn.Linear(hidden_size, hidden_size)
        self.linear3 = nn.Linear(hidden_size, output_size)
        print("Initialized MLPBase model with {} parameters".format(self.count_params()))

    def count_params(self):
        return sum([p.view(-1).shape[0] for p in self.parameters()])

    def forward(self, x):
        h = self.linear1(x).relu()
        h = h + self.linear2(h).relu()
        return self.linear3(h)


class ConvBase(nn.Module):
    def __init__(self, output_size, channels=25, linear_in=125):
        super(ConvBase, self).__init__()
        self.conv1 = nn.Conv1d(1, channels, 5, stride=2, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.linear = nn.Linear(linear_in, output_size)
        print("Initialized ConvBase model with {} parameters".format(self.count_params()))

    def count_params(self):
        return sum([p.view(-1).shape[0] for p in self.parameters()])

    def forward(self, x, verbose=False):
        x = x.view(-1, 1, x.shape[-1])
        h1 = self.conv1(x).relu()
        h2 = self.conv2(h1).relu()
        h3 = self.conv3(h2).relu()
        h3 = h3.view(h3.shape[0], -1)
        return self.linear(h3)


class GRUBase(torch.nn.Module):
    def __init__(self, input_size, output_size, hidden_size=6, time_steps=40, bidirectional=True):
        super(GRUBase, self).__init__()
        self.gru = torch.nn.GRU(input_size=input_size, hidden_size=hidden_size,
                                batch_first=True, bidirectional=bidirectional)
        flat_size = 2 * hidden_size * time_steps if bidirectional else hidden_size * time_steps
        self.linear = torch.nn.Linear(flat_size, output_size)
        self.hidden_size = hidden_size
        self.bidirectional = bidirectional
        print("Initialized GRUBase model with {} parameters".format(self.count_params()))

    def count_params(self):
        return sum([p.view(-1).shape[0] for p in self.parameters()])

    def forward(self, x, h0=None):
        x = x.view(*x.shape[:2], 1)
        k = 2 if self.bidirectional else 1
        h0 = 0 * torch.randn(k, x.shape[0], self.hidden_size) if h0 is None else h0
        h0 = h0.to(x.device)
        output, hn = self.gru(x, h0)
        output = output.reshape(output.shape[0], -1)
        return self.linear(output)


def numpy_init(model, seed):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.from_numpy(rng.uniform(-0.3, 0.3, tuple(p.shape)).astype(np.float32)))


x = torch.from_numpy(np.random.default_rng(0).normal(size=(8, 40)).astype(np.float32))
counts = {}
for seed, model in enumerate([LinearBase(40, 10), MLPBase(40, 10), ConvBase(10, linear_in=125),
                              GRUBase(1, 10, time_steps=40, bidirectional=False),
                              GRUBase(1, 10, time_steps=40)]):
    numpy_init(model, seed)
    out = model(x)
    assert out.shape == (8, 10)
    name = type(model).__name__ + ("_bi" if getattr(model, "bidirectional", False) else "")
    counts[name] = model.count_params()
    print(f"RESULT {name}_out", out.sum().item())
    out.pow(2).mean().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())
    print(f"RESULT {name}_gradnorm", sum(p.grad.pow(2).sum().item() for p in model.parameters()))
assert counts == {"LinearBase": 410, "MLPBase": 15210, "ConvBase": 5210, "GRUBase": 2572, "GRUBase_bi": 5134}, counts
