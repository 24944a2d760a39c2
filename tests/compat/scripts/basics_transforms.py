"""Learn the Basics, Transforms: ToTensor-like and Lambda one-hot transforms written without torchvision."""
import numpy as np

import chainrule as torch
from chainrule.utils.data import Dataset


def to_tensor(image):
    """What ToTensor does to an 8-bit HxW image: float in [0, 1] with a leading channel dim."""
    return torch.from_numpy(image).float().div(255).unsqueeze(0)


def one_hot_label(y):
    return torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(y), value=1)


class ByteImages(Dataset):
    def __init__(self, n, transform=None, target_transform=None):
        rng = np.random.default_rng(0)
        self.images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        self.labels = rng.integers(0, 10, size=n)
        self.transform, self.target_transform = transform, target_transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        image, label = self.images[idx], int(self.labels[idx])
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label


ds = ByteImages(5, transform=to_tensor, target_transform=one_hot_label)
image, target = ds[3]
assert image.shape == (1, 28, 28) and image.dtype == torch.float32
assert 0.0 <= image.min().item() and image.max().item() <= 1.0
assert target.shape == (10,) and target.sum().item() == 1.0
assert target.argmax().item() == int(ds.labels[3])
print("RESULT image_mean", image.mean().item())
