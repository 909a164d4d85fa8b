"""torch.load under the guard: the matrix of issue 4 point 6 (guard-notes.md section 9)."""

import json
import os

import pytest

from snippets import code


def new_torch(t):
    return t.torch_version >= (2, 6)


def test_own_checkpoint_with_optimizer_scheduler_and_rng_loads(target):
    r = target.run(code('''
        import torch
        out(a=attempt(lambda: torch.load(F["own_ckpt"])),
            b=attempt(lambda: torch.load(F["own_ckpt"], weights_only=False)))
    '''))
    for k in "ab":
        assert r.json[k] == {"ok": True, "keys": ["epoch", "model", "optimizer", "py_rng", "scheduler", "torch_rng"]}
    assert "safehub guard" not in r.stderr


def test_own_numpy_rng_and_namespace(target):
    r = target.run(code('''
        import torch
        out(full=attempt(lambda: torch.load(F["own_np"], weights_only=False)),
            default=attempt(lambda: torch.load(F["own_np"])))
    '''))
    assert r.json["full"] == {"ok": True, "keys": ["args", "np_rng"]}
    if new_torch(target):
        # torch's own default (weights_only=True) refuses numpy; the guard does not interfere.
        assert not r.json["default"]["ok"] and not r.json["default"]["refused"]
        assert r.json["default"]["type"] == "UnpicklingError"
    else:
        assert r.json["default"] == {"ok": True, "keys": ["args", "np_rng"]}
    assert "safehub guard" not in r.stderr


def test_own_deny_listed_payload_is_refused_even_inside_allow(target):
    r = target.run(code('''
        import torch, safehub_guard
        a = attempt(lambda: torch.load(F["own_deny"], weights_only=False))
        with safehub_guard.allow():
            b = attempt(lambda: torch.load(F["own_deny"], weights_only=False))
        out(a=a, b=b)
    '''))
    for k in "ab":
        assert r.json[k]["refused"], r.json[k]
        assert "builtin__.exec" in r.json[k]["msg"] or "builtins.exec" in r.json[k]["msg"]
    assert not r.json["marker"] and not target.payload_ran()
    assert "refused to unpickle" in r.stderr and ".exec" in r.stderr


def test_hf_cache_benign_state_dict_loads(target):
    r = target.run(code('''
        import torch
        out(default=attempt(lambda: torch.load(F["hf_benign"])),
            full=attempt(lambda: torch.load(F["hf_benign"], weights_only=False)),
            fileobj=attempt(lambda: torch.load(open(F["hf_benign"], "rb"), weights_only=False)),
            bytesio=attempt(lambda: torch.load(io.BytesIO(open(F["hf_benign"], "rb").read()))))
    '''))
    for k in ("default", "full", "fileobj", "bytesio"):
        assert r.json[k] == {"ok": True, "keys": ["bias", "weight"]}, (k, r.json[k], r.stderr)


@pytest.mark.parametrize("form", ["default", "weights_only_false", "file_object", "bytesio"])
def test_hf_cache_malicious_is_refused_in_every_call_form(target, form):
    call = {
        "default": 'torch.load(F["hf_plain"])',
        "weights_only_false": 'torch.load(F["hf_plain"], weights_only=False)',
        "file_object": 'torch.load(open(F["hf_plain"], "rb"), weights_only=False)',
        "bytesio": 'torch.load(io.BytesIO(open(F["hf_plain"], "rb").read()), weights_only=False)',
    }[form]
    r = target.run(code('''
        import torch
        out(r=attempt(lambda: %s))
    ''' % call))
    res = r.json["r"]
    assert not res["ok"] and not r.json["marker"] and not target.payload_ran(), (res, r.stderr)
    if form == "default" and new_torch(target):
        assert res["type"] == "UnpicklingError"  # torch >= 2.6 refuses by itself
        return
    assert res["refused"], res
    assert "UnpicklingError" in res["mro"] and "RuntimeError" in res["mro"]
    # The stderr message: what, why, what to do instead.
    if form == "bytesio":
        assert "stream without a file path" in r.stderr
    else:
        assert os.path.realpath(target.files["hf_plain"]) in r.stderr
        assert "Hugging Face cache" in r.stderr
    for hint in ("safetensors", "weights_only=True", "SAFEHUB_GUARD_TRUSTED", "allow()"):
        assert hint in r.stderr


@pytest.mark.parametrize("weights_only", [None, True])
def test_hf_cache_torchscript_archive_is_refused(target, weights_only):
    kw = "" if weights_only is None else ", weights_only=True"
    r = target.run(code('''
        import torch
        out(r=attempt(lambda: torch.load(F["hf_script"]%s)))
    ''' % kw))
    assert not r.json["r"]["ok"], r.json
    if not new_torch(target):
        assert r.json["r"]["refused"] and "TorchScript" in r.stderr


def test_hf_cache_numpy_rng_refused_with_guidance_and_allow_loads_it(target):
    r = target.run(code('''
        import torch, safehub_guard
        refused = attempt(lambda: torch.load(F["hf_np"], weights_only=False))
        with safehub_guard.allow():
            window = attempt(lambda: torch.load(F["hf_np"], weights_only=False))
        after = attempt(lambda: torch.load(F["hf_np"], weights_only=False))
        safehub_guard.allow()  # one-shot: the next restricted load only
        own_first = attempt(lambda: torch.load(F["own_np"], weights_only=False))  # does not use it up
        once = attempt(lambda: torch.load(F["hf_np"], weights_only=False))
        again = attempt(lambda: torch.load(F["hf_np"], weights_only=False))
        out(refused=refused, window=window, after=after, once=once, again=again, own_first=own_first)
    '''))
    j = r.json
    assert j["refused"]["refused"] and j["after"]["refused"] and j["again"]["refused"]
    assert j["window"] == {"ok": True, "keys": ["np_rng"]} and j["once"] == {"ok": True, "keys": ["np_rng"]}
    assert j["own_first"]["ok"]
    assert "weights-only loader rejected it" in r.stderr and "numpy" in r.stderr


def test_missing_file_in_cache_is_torchs_file_not_found(target):
    r = target.run(code('''
        import torch
        p = os.path.join(os.environ["HF_HOME"], "hub", "models--o--gone", "snapshots", "r", "x.bin")
        out(r=attempt(lambda: torch.load(p, weights_only=False)))
    '''))
    assert r.json["r"]["type"] == "FileNotFoundError", r.json


def test_hf_layout_outside_hf_home_is_refused(target):
    r = target.run(code('''
        import torch
        out(r=attempt(lambda: torch.load(F["layout_plain"], weights_only=False)))
    '''))
    assert r.json["r"]["refused"] and not target.payload_ran()
    assert "cache layout" in r.stderr


def test_other_users_file_refused_unless_trusted(target):
    assert os.geteuid() == 0, "this test chowns a fixture to another uid: run it as root"
    assert os.stat(target.files["other_uid"]).st_uid == 12345
    snippet = code('''
        import torch
        out(r=attempt(lambda: torch.load(F["other_uid"], weights_only=False)))
    ''')
    r = target.run(snippet)
    assert r.json["r"]["refused"] and "owned by uid 12345" in r.stderr
    trusted = os.path.dirname(target.files["other_uid"])
    r = target.run(snippet, env={"SAFEHUB_GUARD_TRUSTED": "/nonexistent:" + trusted})
    assert r.json["r"] == {"ok": True, "keys": ["args", "w"]}


def test_bytesio_tensor_state_dict_loads(target):
    r = target.run(code('''
        import torch
        sd = torch.nn.Linear(3, 1).state_dict()
        b = io.BytesIO(); torch.save(sd, b); b.seek(0)
        out(r=attempt(lambda: torch.load(b, weights_only=False)))
    '''))
    assert r.json["r"] == {"ok": True, "keys": ["bias", "weight"]}


def test_custom_pickle_module_on_foreign_file_refused(target):
    r = target.run(code('''
        import torch, pickle, types
        pm = types.ModuleType("mypickle")
        pm.Unpickler, pm.load, pm.__version__ = pickle.Unpickler, pickle.load, "0"
        out(foreign=attempt(lambda: torch.load(F["hf_benign"], pickle_module=pm)),
            own=attempt(lambda: torch.load(F["own_np"], pickle_module=pm, weights_only=False)))
    '''))
    assert r.json["foreign"]["refused"] and "custom pickle_module" in r.stderr
    assert r.json["own"] == {"ok": True, "keys": ["args", "np_rng"]}


def test_torch_force_weights_only_env_left_to_torch(target):
    r = target.run(code('''
        import torch
        out(r=attempt(lambda: torch.load(F["own_ckpt"])))
    '''), env={"TORCH_FORCE_WEIGHTS_ONLY_LOAD": "1"})
    if new_torch(target):
        assert r.json["r"]["ok"]
    else:  # 1.13.1's weights-only loader cannot read Python floats: torch's error, unchanged
        assert not r.json["r"]["ok"] and not r.json["r"]["refused"]
        assert r.json["r"]["type"] == "UnpicklingError"


def test_warn_mode_loads_with_one_warning(target):
    r = target.run(code('''
        import torch
        out(a=attempt(lambda: torch.load(F["hf_args"], weights_only=False)),
            b=attempt(lambda: torch.load(F["hf_args"], weights_only=False)))
    '''), env={"SAFEHUB_GUARD": "warn"})
    assert r.json["a"]["ok"] and r.json["b"]["ok"]
    assert r.stderr.count("safehub guard: warning") == 1, r.stderr


def test_audit_mode_loads_silently_with_a_record(target, tmp_path):
    log = str(tmp_path / "audit.jsonl")
    r = target.run(code('''
        import torch
        out(a=attempt(lambda: torch.load(F["hf_args"], weights_only=False)))
    '''), env={"SAFEHUB_GUARD": "AUDIT", "SAFEHUB_GUARD_LOG": log})
    assert r.json["a"]["ok"] and "safehub guard" not in r.stderr
    recs = [json.loads(line) for line in open(log)]
    assert any(x["decision"] == "would-retry" and x["path"] == os.path.realpath(target.files["hf_args"])
               for x in recs), recs


def test_block_mode_records_refusals(target, tmp_path):
    log = str(tmp_path / "audit.jsonl")
    target.run(code('''
        import torch
        out(a=attempt(lambda: torch.load(F["hf_np"], weights_only=False)))
    '''), env={"SAFEHUB_GUARD_LOG": log})
    recs = [json.loads(line) for line in open(log)]
    assert any(x["decision"] == "refused" and x["mode"] == "block" and x["api"] == "torch.load" for x in recs)


def test_off_mode_installs_nothing(target):
    r = target.run(code('''
        import torch, pickle
        wrapped = hasattr(torch.load, "__safehub_guard__")
        pickle.load(open(os.path.join(os.path.dirname(F["own_ckpt"]), "..", "pickles", "deny.pkl"), "rb"))
        out(wrapped=wrapped)
    '''), env={"SAFEHUB_GUARD": "off"})
    assert r.json["wrapped"] is False
    assert r.json["marker"], "with SAFEHUB_GUARD=off the (harmless) payload runs: nothing is installed"


def test_wrapper_survives_reload_and_keeps_signature_and_pickling(target):
    r = target.run(code('''
        import importlib, inspect, pickle, torch
        import torch.serialization as ser
        before = getattr(torch.load, "__safehub_guard__", False)
        same = pickle.loads(pickle.dumps(torch.load)) is torch.load  # by reference, as torch's own
        importlib.reload(ser)
        after = getattr(ser.load, "__safehub_guard__", False)
        params = list(inspect.signature(torch.load).parameters)
        out(before=before, after=after, params=params, same=same, name=torch.load.__name__)
    '''))
    j = r.json
    assert j["before"] and j["after"] and j["same"] and j["name"] == "load"
    assert "weights_only" in j["params"] and "map_location" in j["params"]
