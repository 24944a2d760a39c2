"""Learn the Basics, Datasets & DataLoaders: a custom Dataset over our own data (no download)."""
import numpy as np

import chainrule as torch
from chainrule.utils.data import DataLoader, Dataset, TensorDataset, random_split


class SyntheticImages(Dataset):
    """28x28 'images' whose label is the quadrant holding the bright blob."""

    def __init__(self, n, transform=None, target_transform=None, seed=0):
        rng = np.random.default_rng(seed)
        self.labels = rng.integers(0, 4, size=n)
        self.images = rng.normal(0, 0.1, size=(n, 28, 28)).astype(np.float32)
        for i, lab in enumerate(self.labels):
            r, c = divmod(int(lab), 2)
            self.images[i, r * 14:r * 14 + 14, c * 14:c * 14 + 14] += 1.0
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        image = torch.tensor(self.images[idx]).unsqueeze(0)
        label = int(self.labels[idx])
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label


training_data = SyntheticImages(64)
test_data = SyntheticImages(32, seed=1)
labels_map = {0: "top-left", 1: "top-right", 2: "bottom-left", 3: "bottom-right"}

for i in range(1, 4):
    sample_idx = torch.randint(len(training_data), size=(1,)).item()
    img, label = training_data[sample_idx]
    assert img.shape == (1, 28, 28) and labels_map[label]
    assert img.squeeze().shape == (28, 28)

train_dataloader = DataLoader(training_data, batch_size=16, shuffle=True)
test_dataloader = DataLoader(test_data, batch_size=16, shuffle=False)

train_features, train_labels = next(iter(train_dataloader))
print(f"Feature batch shape: {train_features.size()}")
print(f"Labels batch shape: {train_labels.size()}")
assert tuple(train_features.size()) == (16, 1, 28, 28)
assert tuple(train_labels.size()) == (16,) and train_labels.dtype == torch.int64
first = train_features[0].squeeze()
assert first.shape == (28, 28)

seen = sum(len(y) for _, y in train_dataloader)
assert seen == 64 and len(train_dataloader) == 4

xs = torch.arange(20, dtype=torch.float32).reshape(10, 2)
ys = torch.arange(10)
pairs = TensorDataset(xs, ys)
first_batch = next(iter(DataLoader(pairs, batch_size=4)))
assert torch.equal(first_batch[1], torch.tensor([0, 1, 2, 3]))
print("RESULT first_batch_sum", first_batch[0].sum().item())

train_part, val_part = random_split(pairs, [8, 2], generator=torch.Generator().manual_seed(42))
assert len(train_part) == 8 and len(val_part) == 2
ids = sorted([int(y) for _, y in train_part] + [int(y) for _, y in val_part])
assert ids == list(range(10))
