"""mnist1d's training loop: get_model_args, train_model (Adam, eval every k steps, deepcopy checkpoints), accuracy."""
import copy
import random
import time

import numpy as np

import chainrule as torch
import chainrule.nn as nn
import chainrule.nn.functional as F
import chainrule.optim as optim


class ObjectView(object):
    def __init__(self, d):
        self.__dict__ = d


def set_seed(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def get_model_args(as_dict=False):
    arg_dict = {'input_size': 40, 'output_size': 4, 'hidden_size': 32, 'learning_rate': 1e-2,
                'weight_decay': 0, 'batch_size': 50, 'total_steps': 200, 'print_every': 100,
                'eval_every': 50, 'checkpoint_every': 100, 'device': 'cpu', 'seed': 42}
    return arg_dict if as_dict else ObjectView(arg_dict)


def accuracy(model, inputs, targets):
    preds = model(inputs).argmax(-1).cpu().numpy()
    targets = targets.cpu().numpy().astype(np.float32)
    return 100 * sum(preds == targets) / len(targets)


def train_model(dataset, model, args):
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), args.learning_rate, weight_decay=args.weight_decay)
    x_train, x_test = torch.Tensor(dataset['x']), torch.Tensor(dataset['x_test'])
    y_train, y_test = torch.LongTensor(dataset['y']), torch.LongTensor(dataset['y_test'])
    model = model.to(args.device)
    x_train, x_test, y_train, y_test = [v.to(args.device) for v in [x_train, x_test, y_train, y_test]]

    results = {'checkpoints': [], 'train_losses': [], 'test_losses': [], 'train_acc': [], 'test_acc': []}
    t0 = time.time()
    for step in range(args.total_steps + 1):
        bix = (step * args.batch_size) % len(x_train)
        x, y = x_train[bix:bix + args.batch_size], y_train[bix:bix + args.batch_size]
        loss = criterion(model(x), y)
        results['train_losses'].append(loss.item())
        loss.backward(); optimizer.step(); optimizer.zero_grad()

        if args.eval_every > 0 and step % args.eval_every == 0:
            test_loss = criterion(model(x_test), y_test)
            results['test_losses'].append(test_loss.item())
            results['train_acc'].append(accuracy(model, x_train, y_train))
            results['test_acc'].append(accuracy(model, x_test, y_test))

        if step > 0 and step % args.print_every == 0:
            t1 = time.time()
            print("step {}, dt {:.2f}s, train_loss {:.3e}, test_loss {:.3e}, train_acc {:.1f}, test_acc {:.1f}"
                  .format(step, t1 - t0, loss.item(), results['test_losses'][-1],
                          results['train_acc'][-1], results['test_acc'][-1]))
            t0 = t1

        if args.checkpoint_every > 0 and step % args.checkpoint_every == 0:
            model.step = step
            results['checkpoints'].append(copy.deepcopy(model))
    return results


class MLP(nn.Module):
    def __init__(self, input_size, output_size, hidden_size):
        super().__init__()
        self.linear1 = nn.Linear(input_size, hidden_size)
        self.linear2 = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        return self.linear2(F.relu(self.linear1(x)))


def synthetic_dataset(n_train=400, n_test=100, seed=0):
    """Four 1-D templates, shifted and noised (the spirit of MNIST-1D, generated here)."""
    rng = np.random.default_rng(seed)
    grid = np.linspace(0, 1, 40)
    templates = np.stack([np.sin(2 * np.pi * k * grid) for k in (1, 2, 3, 4)])

    def draw(n):
        y = rng.integers(0, 4, size=n)
        x = np.stack([np.roll(templates[c], rng.integers(-2, 3)) for c in y]) + rng.normal(0, 1.2, (n, 40))
        return x.astype(np.float32), y

    x, y = draw(n_train)
    x_test, y_test = draw(n_test)
    return {'x': x, 'y': y, 'x_test': x_test, 'y_test': y_test}


args = get_model_args()
set_seed(args.seed)
dataset = synthetic_dataset()
model = MLP(args.input_size, args.output_size, args.hidden_size)
rng = np.random.default_rng(1)
for p in model.parameters():
    p.data = torch.Tensor(rng.uniform(-0.2, 0.2, tuple(p.shape)))
results = train_model(dataset, model, args)

assert len(results['checkpoints']) == 3 and [m.step for m in results['checkpoints']] == [0, 100, 200]
assert results['checkpoints'][0] is not model
first_w = results['checkpoints'][0].linear1.weight
assert not torch.equal(first_w, model.linear1.weight)     # deepcopy froze the early weights
assert results['test_losses'][-1] < results['test_losses'][0] and results['test_acc'][-1] > 60
print("RESULT first_test_loss", results['test_losses'][0])
print("RESULT last_test_loss", results['test_losses'][-1])
print("RESULT test_acc", results['test_acc'][-1])
