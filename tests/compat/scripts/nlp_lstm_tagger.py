"""Deep Learning for NLP, Sequence Models and LSTMs: stepping an LSTM, and the LSTM POS tagger."""
import numpy as np

import chainrule as torch
import chainrule.autograd as autograd
import chainrule.nn as nn
import chainrule.nn.functional as F
import chainrule.optim as optim

torch.manual_seed(1)
lstm = nn.LSTM(3, 3)
inputs = [torch.randn(1, 3) for _ in range(5)]
hidden = (torch.randn(1, 1, 3), torch.randn(1, 1, 3))
start = hidden
for i in inputs:
    out, hidden = lstm(i.view(1, 1, -1), hidden)
stepped = hidden

inputs = torch.cat(inputs).view(len(inputs), 1, -1)
out, hidden = lstm(inputs, start)
print(out)
print(hidden)
assert out.shape == (5, 1, 3) and hidden[0].shape == (1, 1, 3)
assert torch.allclose(out[-1], hidden[0][0]) and torch.allclose(hidden[0], stepped[0], atol=1e-6)


def prepare_sequence(seq, to_ix):
    idxs = [to_ix[w] for w in seq]
    return autograd.Variable(torch.tensor(idxs, dtype=torch.long))


training_data = [
    ("The dog ate the apple".split(), ["DET", "NN", "V", "DET", "NN"]),
    ("Everybody read that book".split(), ["NN", "V", "DET", "NN"])
]
word_to_ix = {}
for sent, tags in training_data:
    for word in sent:
        if word not in word_to_ix:
            word_to_ix[word] = len(word_to_ix)
tag_to_ix = {"DET": 0, "NN": 1, "V": 2}
EMBEDDING_DIM = 6
HIDDEN_DIM = 6


class LSTMTagger(nn.Module):
    def __init__(self, embedding_dim, hidden_dim, vocab_size, tagset_size):
        super(LSTMTagger, self).__init__()
        self.hidden_dim = hidden_dim
        self.word_embeddings = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim)
        self.hidden2tag = nn.Linear(hidden_dim, tagset_size)

    def forward(self, sentence):
        embeds = self.word_embeddings(sentence)
        lstm_out, _ = self.lstm(embeds.view(len(sentence), 1, -1))
        tag_space = self.hidden2tag(lstm_out.view(len(sentence), -1))
        tag_scores = F.log_softmax(tag_space, dim=1)
        return tag_scores


model = LSTMTagger(EMBEDDING_DIM, HIDDEN_DIM, len(word_to_ix), len(tag_to_ix))
rng = np.random.default_rng(0)
with torch.no_grad():
    for name, p in model.named_parameters():   # same names and shapes as PyTorch's, so the same start
        p.copy_(torch.from_numpy(rng.uniform(-0.4, 0.4, tuple(p.shape)).astype(np.float32)))
loss_function = nn.NLLLoss()
optimizer = optim.SGD(model.parameters(), lr=0.3)

with torch.no_grad():
    inputs = prepare_sequence(training_data[0][0], word_to_ix)
    tag_scores = model(inputs)
    print(tag_scores)
    first = loss_function(tag_scores, prepare_sequence(training_data[0][1], tag_to_ix)).item()

for epoch in range(150):
    for sentence, tags in training_data:
        model.zero_grad()
        sentence_in = prepare_sequence(sentence, word_to_ix)
        targets = prepare_sequence(tags, tag_to_ix)
        tag_scores = model(sentence_in)
        loss = loss_function(tag_scores, targets)
        loss.backward()
        optimizer.step()

with torch.no_grad():
    inputs = prepare_sequence(training_data[0][0], word_to_ix)
    tag_scores = model(inputs)
    print(tag_scores)
    last = loss_function(tag_scores, prepare_sequence(training_data[0][1], tag_to_ix)).item()
assert tag_scores.argmax(1).tolist() == [0, 1, 2, 0, 1]
assert last < first
print("RESULT first", first)
print("RESULT last", last)
