"""NLP From Scratch, char-RNN classification (first edition): a hand-built RNN cell, Variable, manual SGD."""
import random
import string

import numpy as np

import chainrule as torch
import chainrule.nn as nn
from chainrule.autograd import Variable

all_letters = string.ascii_letters + " .,;'"
n_letters = len(all_letters)
category_lines = {"Aish": ["Aaia", "Eaie", "Iaoa", "Oaei", "Uaai", "Aeia"],
                  "Kish": ["Krkt", "Tkrs", "Skrt", "Prkt", "Trsk", "Kskr"]}
all_categories = list(category_lines)
n_categories = len(all_categories)


def letterToTensor(letter):
    tensor = torch.zeros(1, n_letters)
    tensor[0][all_letters.find(letter)] = 1
    return tensor


def lineToTensor(line):
    tensor = torch.zeros(len(line), 1, n_letters)
    for li, letter in enumerate(line):
        tensor[li][0][all_letters.find(letter)] = 1
    return tensor


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(RNN, self).__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
        self.i2o = nn.Linear(input_size + hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, input, hidden):
        combined = torch.cat((input, hidden), 1)
        hidden = self.i2h(combined)
        output = self.i2o(combined)
        output = self.softmax(output)
        return output, hidden

    def initHidden(self):
        return Variable(torch.zeros(1, self.hidden_size))


n_hidden = 12
rnn = RNN(n_letters, n_hidden, n_categories)
rng = np.random.default_rng(0)
for p in rnn.parameters():
    p.data = torch.from_numpy(rng.uniform(-0.1, 0.1, tuple(p.shape)).astype(np.float32))

output, next_hidden = rnn(Variable(letterToTensor('A')), Variable(torch.zeros(1, n_hidden)))
assert output.shape == (1, n_categories) and next_hidden.shape == (1, n_hidden)


def categoryFromOutput(output):
    top_n, top_i = output.data.topk(1)
    category_i = top_i[0][0].item()
    return all_categories[category_i], category_i


criterion = nn.NLLLoss()
learning_rate = 0.05


def train(category_tensor, line_tensor):
    hidden = rnn.initHidden()
    rnn.zero_grad()
    for i in range(line_tensor.size()[0]):
        output, hidden = rnn(line_tensor[i], hidden)
    loss = criterion(output, category_tensor)
    loss.backward()
    for p in rnn.parameters():
        p.data.add_(p.grad.data, alpha=-learning_rate)
    return output, loss.item()


examples = [(c, line) for c in all_categories for line in category_lines[c]]
losses = []
for epoch in range(15):
    total = 0.0
    for category, line in examples:
        category_tensor = Variable(torch.LongTensor([all_categories.index(category)]))
        output, loss = train(category_tensor, Variable(lineToTensor(line)))
        total += loss
    losses.append(total / len(examples))
print(losses)
assert losses[-1] < losses[0]
print("RESULT loss_first", losses[0])
print("RESULT loss_last", losses[-1])


def evaluate(line_tensor):
    hidden = rnn.initHidden()
    for i in range(line_tensor.size()[0]):
        output, hidden = rnn(line_tensor[i], hidden)
    return output


for category, line in [("Aish", "Oaia"), ("Kish", "Sktr")]:
    guess, _ = categoryFromOutput(evaluate(Variable(lineToTensor(line))))
    assert guess == category, (line, guess)
topv, topi = evaluate(lineToTensor("Aeai")).data.topk(2, 1, True)
assert topv[0][0].item() >= topv[0][1].item()
