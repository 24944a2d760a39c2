"""Module.register_load_state_dict_pre_hook / _post_hook against torch's, and BiGRU's old-key renaming through them.

The same module tree is built in both libraries, the same hooks are registered on every module, and
each hook writes down what it was given: the calls' order, the prefixes, the keys each module sees,
the missing/unexpected lists at that moment. The records must be equal. Where torch has no promise
(it loads as it goes, so a refused load leaves a half-loaded model), chainrule's own is checked:
a refused load puts every value back.
"""

from collections import OrderedDict

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn as nn
from chainrule.models import BiGRU

LIBS = [cr, torch]


def _tree(lib):
    """Net(encoder=Sequential(Block(fc, buffer scale), ReLU), head=Linear, alias=head): a shared module, two levels."""

    class Block(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = lib.nn.Linear(2, 3)
            self.register_buffer("scale", lib.ones(3))

    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = lib.nn.Sequential(Block(), lib.nn.ReLU())
            self.head = lib.nn.Linear(3, 2)
            self.alias = self.head  # one module under two paths: loaded (and hooked) once per path

    return Net()


def _values(seed=0):
    """Key -> NumPy array for every key of _tree's state dict (the same numbers for both libraries)."""
    rng = np.random.default_rng(seed)
    keys = list(_tree(cr).state_dict())
    assert keys == list(_tree(torch).state_dict())
    shapes = {k: tuple(v.shape) for k, v in _tree(cr).state_dict().items()}
    return {k: rng.normal(size=shapes[k]).astype(np.float32) for k in keys}


def _state(lib, arrays):
    make = cr.tensor if lib is cr else torch.from_numpy
    return OrderedDict((k, make(np.array(v))) for k, v in arrays.items())


def _record_everything(model, log, lib):
    """A pre- and a post-hook on every module (each path's module once), writing what they see into `log`."""
    handles = []
    for name, module in model.named_modules():

        def pre(module, sd, prefix, local_metadata, strict, missing, unexpected, error_msgs, name=name):
            log.append(("pre", name, prefix, list(sd), dict(local_metadata), strict, list(missing), list(unexpected)))

        def post(module, keys, name=name):
            log.append(("post", name, list(keys.missing_keys), list(keys.unexpected_keys)))

        handles.append(module.register_load_state_dict_pre_hook(pre))
        handles.append(module.register_load_state_dict_post_hook(post))
    return handles


def _load_recorded(lib, state, strict=True):
    model, log = _tree(lib), []
    _record_everything(model, log, lib)
    try:
        result = model.load_state_dict(state, strict=strict)
        outcome = ("ok", list(result.missing_keys), list(result.unexpected_keys))
    except RuntimeError as e:
        outcome = ("raised", type(e).__name__)
    return log, outcome


def _both(fn):
    ours, theirs = fn(cr), fn(torch)
    assert ours == theirs, f"\nchainrule: {ours}\ntorch:     {theirs}"
    return ours


def test_hooks_see_what_torchs_see_on_a_full_load():
    log, outcome = _both(lambda lib: _load_recorded(lib, _state(lib, _values())))
    assert outcome == ("ok", [], [])
    calls = [(kind, name) for kind, name, *_ in log]
    # Depth first: pre-hooks before a module's children, post-hooks after them; "alias" is "head" again.
    assert calls == [
        ("pre", ""),
        ("pre", "encoder"),
        ("pre", "encoder.0"),
        ("pre", "encoder.0.fc"),
        ("post", "encoder.0.fc"),
        ("post", "encoder.0"),
        ("pre", "encoder.1"),
        ("post", "encoder.1"),
        ("post", "encoder"),
        ("pre", "head"),
        ("post", "head"),
        ("pre", "head"),
        ("post", "head"),
        ("post", ""),
    ]
    prefixes = [entry[2] for entry in log if entry[0] == "pre"]
    assert prefixes == ["", "encoder.", "encoder.0.", "encoder.0.fc.", "encoder.1.", "head.", "alias."]
    # Each module is handed only the keys under its prefix.
    assert log[3][3] == ["encoder.0.fc.weight", "encoder.0.fc.bias"]


def test_hooks_see_the_lists_grow_with_missing_and_unexpected_keys():
    def load(lib):
        state = _state(lib, _values())
        del state["encoder.0.scale"], state["alias.bias"]
        state["encoder.0.fc.extra"] = state["head.bias"]
        state["junk"] = state["head.bias"]
        state["encoder.9.weight"] = state["head.bias"]  # a child that does not exist
        return _load_recorded(lib, state, strict=False)

    log, outcome = _both(load)
    assert outcome == ("ok", ["encoder.0.scale", "alias.bias"], ["junk", "encoder.9.weight", "encoder.0.fc.extra"])
    post_fc = next(e for e in log if e[:2] == ("post", "encoder.0.fc"))
    assert post_fc[2:] == (["encoder.0.scale"], ["junk", "encoder.9.weight", "encoder.0.fc.extra"])
    assert all(e[5] is True for e in log if e[0] == "pre")  # torch hands every pre-hook strict=True
    # The same load with strict=True is refused by both.
    assert _both(lambda lib: _load_recorded(lib, _state(lib, _values()) | {"junk": lib.zeros(1)})[1]) == (
        "raised",
        "RuntimeError",
    )


def test_local_metadata_is_the_state_dicts_entry_for_the_module():
    def load(lib):
        state = _state(lib, _values())
        state._metadata = {"": {"version": 1}, "encoder.0": {"version": 7}}
        return _load_recorded(lib, state)

    log, _ = _both(load)
    metadata = {e[1]: e[4] for e in log if e[0] == "pre"}
    assert metadata[""] == {"version": 1} and metadata["encoder.0"] == {"version": 7} and metadata["head"] == {}


def _rename_fc_to_dense(module, sd, prefix, *rest):
    for key in [k for k in sd if k.startswith(prefix + "dense.")]:
        sd[prefix + "fc." + key[len(prefix + "dense.") :]] = sd.pop(key)


def test_a_pre_hook_renames_keys_under_its_prefix_when_a_parent_is_loaded():
    arrays = _values(1)
    old = {k.replace(".fc.", ".dense."): v for k, v in arrays.items()}

    def load(lib):
        model = _tree(lib)
        model.encoder[0].register_load_state_dict_pre_hook(_rename_fc_to_dense)
        state = _state(lib, old)
        result = model.load_state_dict(state)
        assert "encoder.0.dense.weight" in state  # the caller's dict is not edited
        weight = model.encoder[0].fc.weight.detach().numpy().copy()
        return tuple(map(list, result)), weight.tolist()

    result, weight = _both(load)
    assert result == ([], [])
    np.testing.assert_array_equal(np.array(weight, dtype=np.float32), arrays["encoder.0.fc.weight"])


def test_removed_hooks_are_not_called_and_old_keys_are_then_unexpected():
    old = {k.replace(".fc.", ".dense."): v for k, v in _values().items()}

    def load(lib):
        model, log = _tree(lib), []
        handles = _record_everything(model, log, lib)
        rename = model.encoder[0].register_load_state_dict_pre_hook(_rename_fc_to_dense)
        for handle in handles + [rename]:
            handle.remove()
        result = model.load_state_dict(_state(lib, old), strict=False)
        return log, tuple(map(list, result))

    log, result = _both(load)
    assert log == []
    assert result == (
        ["encoder.0.fc.weight", "encoder.0.fc.bias"],
        ["encoder.0.dense.weight", "encoder.0.dense.bias"],
    )


def test_a_post_hook_that_clears_the_keys_lets_a_strict_load_pass():
    def load(lib):
        model = _tree(lib)
        state = _state(lib, _values())
        del state["head.bias"]
        state["extra"] = state["head.weight"]

        def forgive(module, keys):
            keys.missing_keys.clear()
            keys.unexpected_keys.clear()

        handle = model.encoder.register_load_state_dict_post_hook(forgive)  # runs before head is loaded
        with pytest.raises(RuntimeError, match='Missing key.*"head.bias"') as info:
            model.load_state_dict(state)
        handle.remove()
        model.register_load_state_dict_post_hook(forgive)  # the root's runs last: nothing is left to refuse
        result = model.load_state_dict(state)
        return "extra" in str(info.value), tuple(map(list, result))

    assert _both(load) == (False, ([], []))  # encoder's hook cleared "extra" (seen at the root before it)


def test_hooks_see_the_modules_walked_before_them_loaded():
    values = _values()

    def load(lib, where):
        model, seen = _tree(lib), {}
        old_head = model.head.weight.detach().numpy().copy()

        def before_head(module, sd, prefix, *rest):
            seen.setdefault("encoder.0.fc.weight loaded", model.encoder[0].fc.weight.detach().numpy().copy())
            seen.setdefault("head.weight kept", module.weight.detach().numpy().copy())

        def after_fc(module, keys):
            seen["encoder.0.fc.bias loaded"] = module.bias.detach().numpy().copy()

        if where == "pre":
            model.head.register_load_state_dict_pre_hook(before_head)
        else:
            model.encoder[0].fc.register_load_state_dict_post_hook(after_fc)
        model.load_state_dict(_state(lib, values))
        expected = {
            "encoder.0.fc.weight loaded": values["encoder.0.fc.weight"],
            "head.weight kept": old_head,
            "encoder.0.fc.bias loaded": values["encoder.0.fc.bias"],
        }
        return sorted(k for k, v in seen.items() if np.array_equal(v, expected[k]))

    assert _both(lambda lib: load(lib, "pre")) == ["encoder.0.fc.weight loaded", "head.weight kept"]
    assert _both(lambda lib: load(lib, "post")) == ["encoder.0.fc.bias loaded"]


def test_a_post_hook_that_adds_a_key_makes_a_strict_load_fail_and_chainrule_puts_everything_back():
    def load(lib):
        model = _tree(lib)
        model.head.register_load_state_dict_post_hook(lambda m, keys: keys.missing_keys.append("head.invented"))
        with pytest.raises(RuntimeError, match='"head.invented"'):
            model.load_state_dict(_state(lib, _values()))
        assert list(model.load_state_dict(_state(lib, _values()), strict=False)) == [
            ["head.invented", "head.invented"],  # once per path to head
            [],
        ]
        return True

    _both(load)
    model = _tree(cr)
    before = {k: v._data.copy() for k, v in model.state_dict().items()}
    seen = {}

    def look(module, keys):
        seen.setdefault("w", module.weight.detach().numpy().copy())

    # The post-hook sees head loaded (as in torch: the copies a hook could observe are made before it runs)...
    model.head.register_load_state_dict_post_hook(look)
    model.register_load_state_dict_post_hook(lambda m, keys: keys.unexpected_keys.append("refused"))
    with pytest.raises(RuntimeError, match="nothing was loaded") as info:
        model.load_state_dict(_state(cr, _values()))
    assert '"refused"' in str(info.value)
    np.testing.assert_array_equal(seen["w"], _values()["head.weight"])
    # ...and the refusal puts every value back, the tied head/alias included.
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value._data, before[key], err_msg=key)


def test_a_hook_that_raises_leaves_the_module_unchanged():
    model = _tree(cr)
    before = {k: v._data.copy() for k, v in model.state_dict().items()}

    def boom(module, keys):
        raise ValueError("hook failed")

    model.head.register_load_state_dict_post_hook(boom)  # after encoder's values were copied for it
    with pytest.raises(ValueError, match="hook failed"):
        model.load_state_dict(_state(cr, _values()))
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value._data, before[key], err_msg=key)


def test_a_post_hook_must_return_none_and_a_pre_hooks_error_message_refuses_the_load():
    for lib in LIBS:
        model = _tree(lib)
        model.head.register_load_state_dict_post_hook(lambda m, keys: keys)
        with pytest.raises((TypeError, AssertionError), match="in place|inplace"):
            model.load_state_dict(_state(lib, _values()))

        model = _tree(lib)
        model.encoder.register_load_state_dict_pre_hook(lambda m, sd, prefix, *rest: rest[-1].append("too old"))
        with pytest.raises(RuntimeError, match="too old"):
            model.load_state_dict(_state(lib, _values()))


def test_load_state_dict_refuses_a_non_mapping():
    for lib in LIBS:
        with pytest.raises(TypeError, match="dict-like"):
            lib.nn.Linear(2, 3).load_state_dict([("weight", lib.zeros(3, 2)), ("bias", lib.zeros(3))])


# ----- BiGRU's pre-hook: old two-GRU checkpoints load through a module that holds a BiGRU -----


class Holder(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = BiGRU(12, 3, hidden=4)
        self.out = nn.Linear(3, 2)

    def forward(self, x):
        return self.out(self.rnn(x))


def _old_layout(state, prefix):
    """`state` with the BiGRU at `prefix` written in the layout of chainrule before BiGRU held one nn.GRU."""
    old = {}
    for key, value in state.items():
        rest = key[len(prefix) :]
        if key.startswith(prefix + "gru.") and key.endswith("_reverse"):
            key = prefix + "backward_gru." + rest[len("gru.") : -len("_reverse")]
        elif key.startswith(prefix + "gru."):
            key = prefix + "forward_gru." + rest[len("gru.") :]
        old[key] = value
    return old


def test_a_module_holding_a_bigru_loads_an_old_layout_checkpoint():
    cr.manual_seed(0)
    saved = Holder()
    old = _old_layout(saved.state_dict(), "rnn.")
    assert "rnn.backward_gru.weight_hh_l0" in old and "rnn.forward_gru.bias_ih_l0" in old
    assert not any(k.startswith("rnn.gru.") for k in old)
    cr.manual_seed(1)
    model = Holder()
    assert model.load_state_dict(old) == ([], [])
    for key, value in saved.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[key]._data, value._data, err_msg=key)
    x = cr.tensor(np.random.default_rng(1).normal(size=(5, 12)).astype(np.float32))
    np.testing.assert_array_equal(model(x).detach().numpy(), saved(x).detach().numpy())
    # A missing old key is reported under its current name, with the holder's prefix.
    with pytest.raises(RuntimeError, match='Missing key.*"rnn.gru.bias_hh_l0_reverse"'):
        model.load_state_dict({k: v for k, v in old.items() if k != "rnn.backward_gru.bias_hh_l0"})
    # Only keys under the BiGRU's prefix are renamed: the holder's own "forward_gru..." is unexpected as written.
    stray = dict(old, **{"forward_gru.weight_ih_l0": old["rnn.forward_gru.weight_ih_l0"]})
    assert model.load_state_dict(stray, strict=False) == ([], ["forward_gru.weight_ih_l0"])


def test_bigru_deeper_in_a_sequential_and_without_its_hook():
    cr.manual_seed(0)
    saved = nn.Sequential(nn.Identity(), BiGRU(12, 3, hidden=4))
    old = _old_layout(saved.state_dict(), "1.")
    model = nn.Sequential(nn.Identity(), BiGRU(12, 3, hidden=4))
    assert model.load_state_dict(old) == ([], [])
    np.testing.assert_array_equal(model[1].gru.weight_hh_l0_reverse._data, saved[1].gru.weight_hh_l0_reverse._data)
    # The renaming is the hook's: with it removed, the old keys are unexpected and the current ones missing.
    model = nn.Sequential(nn.Identity(), BiGRU(12, 3, hidden=4))
    model[1]._load_state_dict_pre_hooks.clear()
    missing, unexpected = model.load_state_dict(old, strict=False)
    assert "1.gru.weight_ih_l0_reverse" in missing and "1.backward_gru.weight_ih_l0" in unexpected


def test_a_hook_may_remove_itself_during_a_load():
    """chainrule runs a module's hooks from a copy of its list (torch raises when another hook follows)."""
    for register in ("register_load_state_dict_pre_hook", "register_load_state_dict_post_hook"):
        model, calls, handles = nn.Linear(2, 3), [], []
        handles.append(getattr(model, register)(lambda *args: (calls.append("once"), handles[0].remove())[0]))
        getattr(model, register)(lambda *args: calls.append("always"))
        model.load_state_dict(model.state_dict())
        model.load_state_dict(model.state_dict())
        assert calls == ["once", "always", "always"], register
