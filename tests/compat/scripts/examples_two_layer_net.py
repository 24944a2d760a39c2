"""Learning PyTorch with Examples (older edition): a two-layer ReLU net with manual backprop in tensors."""
import numpy as np

import chainrule as torch

dtype = torch.float
device = torch.device("cpu")
N, D_in, H, D_out = 16, 20, 30, 5

rng = np.random.default_rng(0)
x = torch.tensor(rng.normal(size=(N, D_in)), device=device, dtype=dtype)
y = torch.tensor(rng.normal(size=(N, D_out)), device=device, dtype=dtype)
w1 = torch.tensor(rng.normal(size=(D_in, H)) * 0.1, device=device, dtype=dtype)
w2 = torch.tensor(rng.normal(size=(H, D_out)) * 0.1, device=device, dtype=dtype)
w1_auto = w1.clone().requires_grad_(True)
w2_auto = w2.clone().requires_grad_(True)

learning_rate = 1e-3
losses = []
for t in range(200):
    h = x.mm(w1)
    h_relu = h.clamp(min=0)
    y_pred = h_relu.mm(w2)
    loss = (y_pred - y).pow(2).sum().item()
    losses.append(loss)

    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h_relu.t().mm(grad_y_pred)
    grad_h_relu = grad_y_pred.mm(w2.t())
    grad_h = grad_h_relu.clone()
    grad_h[h < 0] = 0
    grad_w1 = x.t().mm(grad_h)

    if t == 0:   # the hand-written gradients are autograd's
        auto_loss = (x.mm(w1_auto).clamp(min=0).mm(w2_auto) - y).pow(2).sum()
        auto_loss.backward()
        assert torch.allclose(w1_auto.grad, grad_w1, atol=1e-5)
        assert torch.allclose(w2_auto.grad, grad_w2, atol=1e-5)

    w1 -= learning_rate * grad_w1
    w2 -= learning_rate * grad_w2

assert losses[-1] < losses[0] / 5
print("RESULT final_loss", losses[-1])
