"""Learn the Basics, Optimizing Model Parameters: train_loop / test_loop with SGD and CrossEntropyLoss."""
import numpy as np

import chainrule as torch
from chainrule import nn
from chainrule.utils.data import DataLoader, TensorDataset

rng = np.random.default_rng(0)
centers = rng.normal(0, 1, size=(4, 64)).astype(np.float32)
labels = rng.integers(0, 4, size=256)
images = (centers[labels] + rng.normal(0, 0.5, size=(256, 64))).astype(np.float32).reshape(256, 8, 8)
training_data = TensorDataset(torch.from_numpy(images[:192]), torch.from_numpy(labels[:192]))
test_data = TensorDataset(torch.from_numpy(images[192:]), torch.from_numpy(labels[192:]))


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 4))

    def forward(self, x):
        return self.linear_relu_stack(self.flatten(x))


model = NeuralNetwork()
init = np.random.default_rng(1)
with torch.no_grad():
    for p in model.parameters():       # the same starting point in every library
        bound = 1 / np.sqrt(p.shape[-1])
        p.copy_(torch.from_numpy(init.uniform(-bound, bound, tuple(p.shape)).astype(np.float32)))

learning_rate = 1e-1
batch_size = 32
epochs = 5
train_dataloader = DataLoader(training_data, batch_size=batch_size)
test_dataloader = DataLoader(test_data, batch_size=batch_size)
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)


def train_loop(dataloader, model, loss_fn, optimizer):
    size = len(dataloader.dataset)
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if batch % 2 == 0:
            loss, current = loss.item(), batch * batch_size + len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")


def test_loop(dataloader, model, loss_fn):
    model.eval()
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    test_loss /= num_batches
    correct /= size
    print(f"Test Error: \n Accuracy: {(100*correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")
    return test_loss, correct


first_loss, _ = test_loop(test_dataloader, model, loss_fn)
for t in range(epochs):
    print(f"Epoch {t+1}\n-------------------------------")
    train_loop(train_dataloader, model, loss_fn, optimizer)
    test_loss, accuracy = test_loop(test_dataloader, model, loss_fn)
print("Done!")
assert test_loss < first_loss / 2 and accuracy > 0.9
print("RESULT first_loss", first_loss)
print("RESULT test_loss", test_loss)
print("RESULT accuracy", accuracy)
