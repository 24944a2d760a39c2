"""Learn the Basics, Build the Neural Network: nn.Module, Flatten, Sequential, Softmax, parameters."""
import chainrule as torch
from chainrule import nn

device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
print(f"Using {device} device")
assert device == "cpu"


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 64),
            nn.ReLU(),
            nn.Linear(64, 64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


model = NeuralNetwork().to(device)
print(model)

X = torch.rand(1, 28, 28, device=device)
logits = model(X)
pred_probab = nn.Softmax(dim=1)(logits)
y_pred = pred_probab.argmax(1)
print(f"Predicted class: {y_pred}")
assert logits.shape == (1, 10) and abs(pred_probab.sum().item() - 1) < 1e-6
assert 0 <= y_pred.item() < 10

input_image = torch.rand(3, 28, 28)
flat_image = nn.Flatten()(input_image)
assert flat_image.size() == (3, 784)
hidden1 = nn.Linear(in_features=28 * 28, out_features=20)(flat_image)
assert hidden1.size() == (3, 20)
hidden1 = nn.ReLU()(hidden1)
assert (hidden1 >= 0).all()

seq_modules = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 20), nn.ReLU(), nn.Linear(20, 10))
logits = seq_modules(input_image)
pred_probab = nn.Softmax(dim=1)(logits)
assert torch.allclose(pred_probab.sum(1), torch.ones(3))

names = []
for name, param in model.named_parameters():
    print(f"Layer: {name} | Size: {param.size()} | Values : {param[:2]} \n")
    names.append(name)
assert names == ["linear_relu_stack.0.weight", "linear_relu_stack.0.bias", "linear_relu_stack.2.weight",
                 "linear_relu_stack.2.bias", "linear_relu_stack.4.weight", "linear_relu_stack.4.bias"]
n_params = sum(p.numel() for p in model.parameters())
print("RESULT n_params", n_params)
