"""Learning PyTorch with Examples (older edition): MyReLU as an autograd.Function in a two-layer net."""
import numpy as np

import chainrule as torch


class MyReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0
        return grad_input


dtype = torch.float
N, D_in, H, D_out = 16, 12, 20, 4
rng = np.random.default_rng(0)
x = torch.tensor(rng.normal(size=(N, D_in)), dtype=dtype)
y = torch.tensor(rng.normal(size=(N, D_out)), dtype=dtype)
w1 = torch.tensor(rng.normal(size=(D_in, H)) * 0.2, dtype=dtype, requires_grad=True)
w2 = torch.tensor(rng.normal(size=(H, D_out)) * 0.2, dtype=dtype, requires_grad=True)

# The hand-written backward is relu's: compare with the built-in on the same input.
probe = torch.tensor([-1.5, 0.5, 2.0, -0.1], requires_grad=True)
MyReLU.apply(probe).sum().backward()
assert probe.grad.tolist() == [0.0, 1.0, 1.0, 0.0]

learning_rate = 2e-3
losses = []
for t in range(200):
    relu = MyReLU.apply
    y_pred = relu(x.mm(w1)).mm(w2)
    loss = (y_pred - y).pow(2).sum()
    losses.append(loss.item())
    loss.backward()
    with torch.no_grad():
        w1 -= learning_rate * w1.grad
        w2 -= learning_rate * w2.grad
        w1.grad.zero_()
        w2.grad.zero_()
assert losses[-1] < losses[0] / 3
print("RESULT first_loss", losses[0])
print("RESULT final_loss", losses[-1])
