"""NLP From Scratch, Classifying Names with a Character-Level RNN (current edition, nn.RNN) on made-up names."""
import random
import string
import time

import numpy as np

import chainrule as torch
import chainrule.nn as nn
from chainrule.utils.data import Dataset

device = torch.device('cpu')
if torch.cuda.is_available():
    device = torch.device('cuda')
torch.set_default_device(device)
print(f"Using device = {torch.get_default_device()}")

allowed_characters = string.ascii_letters + " .,;'" + "_"
n_letters = len(allowed_characters)


def letterToIndex(letter):
    if letter not in allowed_characters:
        return allowed_characters.find("_")
    return allowed_characters.find(letter)


def lineToTensor(line):
    tensor = torch.zeros(len(line), 1, n_letters)
    for li, letter in enumerate(line):
        tensor[li][0][letterToIndex(letter)] = 1
    return tensor


print(lineToTensor("Ab").size())


def made_up_names(seed):
    """Two 'languages' with different letters: names are drawn from disjoint syllables."""
    rng = random.Random(seed)
    syllables = {"Vowelish": ["ao", "ei", "ua", "io", "ea"], "Consonish": ["kr", "st", "pl", "br", "sk"]}
    return {lang: ["".join(rng.choice(sy) for _ in range(rng.randint(2, 4))).capitalize() for _ in range(40)]
            for lang, sy in syllables.items()}


class NamesDataset(Dataset):
    def __init__(self, names_by_label):
        self.data, self.data_tensors, self.labels, self.labels_tensors = [], [], [], []
        self.labels_uniq = sorted(names_by_label)
        for label, names in names_by_label.items():
            for name in names:
                self.data.append(name)
                self.data_tensors.append(lineToTensor(name))
                self.labels.append(label)
        for idx in range(len(self.labels)):
            temp_tensor = torch.tensor([self.labels_uniq.index(self.labels[idx])], dtype=torch.long)
            self.labels_tensors.append(temp_tensor)

    def __len__(self):
        return len(self.data)

    def __getitem__(self, idx):
        return self.labels_tensors[idx], self.data_tensors[idx], self.labels[idx], self.data[idx]


alldata = NamesDataset(made_up_names(0))
train_set, test_set = torch.utils.data.random_split(alldata, [.75, .25],
                                                     generator=torch.Generator(device=device).manual_seed(2024))
print(f"train examples = {len(train_set)}, validation examples = {len(test_set)}")
assert len(train_set) == 60 and len(test_set) == 20


class CharRNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(CharRNN, self).__init__()
        self.rnn = nn.RNN(input_size, hidden_size)
        self.h2o = nn.Linear(hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, line_tensor):
        rnn_out, hidden = self.rnn(line_tensor)
        output = self.h2o(hidden[0])
        output = self.softmax(output)
        return output


torch.manual_seed(0)
rnn = CharRNN(n_letters, 16, len(alldata.labels_uniq))
print(rnn)


def label_from_output(output, output_labels):
    top_n, top_i = output.topk(1)
    label_i = top_i[0].item()
    return output_labels[label_i], label_i


def train(rnn, training_data, n_epoch=6, n_batch_size=10, learning_rate=0.05, criterion=nn.NLLLoss()):
    current_loss = 0
    all_losses = []
    rnn.train()
    optimizer = torch.optim.SGD(rnn.parameters(), lr=learning_rate)
    start = time.time()
    for iter in range(1, n_epoch + 1):
        rnn.zero_grad()
        batches = list(range(len(training_data)))
        random.shuffle(batches)
        batches = np.array_split(batches, len(batches) // n_batch_size)
        for idx, batch in enumerate(batches):
            batch_loss = 0
            for i in batch:
                (label_tensor, text_tensor, label, text) = training_data[i]
                output = rnn.forward(text_tensor)
                loss = criterion(output, label_tensor)
                batch_loss += loss
            batch_loss.backward()
            nn.utils.clip_grad_norm_(rnn.parameters(), 3)
            optimizer.step()
            optimizer.zero_grad()
            current_loss += batch_loss.item() / len(batch)
        all_losses.append(current_loss / len(batches))
        print(f"{iter} ({iter / n_epoch:.0%}): \t average batch loss = {all_losses[-1]} "
              f"({time.time() - start:.1f}s)")
        current_loss = 0
    return all_losses


random.seed(0)
all_losses = train(rnn, train_set)
assert all_losses[-1] < all_losses[0]


def evaluate(rnn, testing_data, classes):
    confusion = torch.zeros(len(classes), len(classes))
    rnn.eval()
    with torch.no_grad():
        for i in range(len(testing_data)):
            (label_tensor, text_tensor, label, text) = testing_data[i]
            output = rnn(text_tensor)
            guess, guess_i = label_from_output(output, classes)
            label_i = classes.index(label)
            confusion[label_i][guess_i] += 1
    for i in range(len(classes)):
        denom = confusion[i].sum()
        if denom > 0:
            confusion[i] = confusion[i] / denom
    return confusion


confusion = evaluate(rnn, test_set, classes=alldata.labels_uniq)
print(confusion)
assert sum(confusion[i][i].item() for i in range(len(alldata.labels_uniq))) / len(alldata.labels_uniq) > 0.5
