"""Deep Learning for NLP, Deep Learning with PyTorch: the bag-of-words logistic regression classifier."""
import numpy as np

import chainrule as torch
import chainrule.nn as nn
import chainrule.nn.functional as F
import chainrule.optim as optim

torch.manual_seed(1)
data = [("me gusta comer en la cafeteria".split(), "SPANISH"),
        ("Give it to me".split(), "ENGLISH"),
        ("No creo que sea una buena idea".split(), "SPANISH"),
        ("No it is not a good idea to get lost at sea".split(), "ENGLISH")]
test_data = [("Yo creo que si".split(), "SPANISH"),
             ("it is lost on me".split(), "ENGLISH")]

word_to_ix = {}
for sent, _ in data + test_data:
    for word in sent:
        if word not in word_to_ix:
            word_to_ix[word] = len(word_to_ix)
VOCAB_SIZE = len(word_to_ix)
NUM_LABELS = 2


class BoWClassifier(nn.Module):
    def __init__(self, num_labels, vocab_size):
        super(BoWClassifier, self).__init__()
        self.linear = nn.Linear(vocab_size, num_labels)

    def forward(self, bow_vec):
        return F.log_softmax(self.linear(bow_vec), dim=1)


def make_bow_vector(sentence, word_to_ix):
    vec = torch.zeros(len(word_to_ix))
    for word in sentence:
        vec[word_to_ix[word]] += 1
    return vec.view(1, -1)


def make_target(label, label_to_ix):
    return torch.LongTensor([label_to_ix[label]])


model = BoWClassifier(NUM_LABELS, VOCAB_SIZE)
with torch.no_grad():
    model.linear.weight.copy_(torch.from_numpy(np.random.default_rng(0).uniform(
        -0.1, 0.1, (NUM_LABELS, VOCAB_SIZE)).astype(np.float32)))
    model.linear.bias.zero_()
for param in model.parameters():
    print(param)

with torch.no_grad():
    sample = data[0]
    bow_vector = make_bow_vector(sample[0], word_to_ix)
    log_probs = model(bow_vector)
    print(log_probs)
    assert abs(log_probs.exp().sum().item() - 1) < 1e-6

label_to_ix = {"SPANISH": 0, "ENGLISH": 1}
with torch.no_grad():
    before = [model(make_bow_vector(inst, word_to_ix)) for inst, _ in test_data]
print(next(model.parameters())[:, word_to_ix["creo"]])

loss_function = nn.NLLLoss()
optimizer = optim.SGD(model.parameters(), lr=0.1)
for epoch in range(100):
    for instance, label in data:
        model.zero_grad()
        bow_vec = make_bow_vector(instance, word_to_ix)
        target = make_target(label, label_to_ix)
        log_probs = model(bow_vec)
        loss = loss_function(log_probs, target)
        loss.backward()
        optimizer.step()

with torch.no_grad():
    for (instance, label), old in zip(test_data, before):
        log_probs = model(make_bow_vector(instance, word_to_ix))
        print(log_probs)
        assert log_probs.argmax(1).item() == label_to_ix[label]
creo = next(model.parameters())[:, word_to_ix["creo"]]
print(creo)
assert creo[0].item() > creo[1].item()       # "creo" now points to SPANISH
print("RESULT creo_spanish", creo[0].item())
print("RESULT last_loss", loss.item())
