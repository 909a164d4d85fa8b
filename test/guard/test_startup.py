"""Start-up: the guard is present in every ordinary start, absent with -S, and never imports torch."""

import pytest

from conftest import safehub

PROBE = '''
import sys, json
g = sys.modules.get("safehub_guard")
print(json.dumps({"guard": g is not None and g.status()[0], "torch": "torch" in sys.modules,
                  "pickle": "pickle" in sys.modules, "numpy": "numpy" in sys.modules}))
'''


@pytest.mark.parametrize("flags", [(), ("-I",), ("-s",), ("-E",), ("-O",)])
def test_guard_present_and_torch_not_imported(target, flags):
    r = target.run(PROBE, *flags)
    assert r.json == {"guard": True, "torch": False, "pickle": False, "numpy": False}, r.stderr
    assert r.stderr == ""


def test_guard_absent_with_dash_S(target):
    r = target.run(PROBE, "-S")
    assert r.json["guard"] is False


def test_env_mode_and_default(target):
    r = target.run("import safehub_guard, json; print(json.dumps(safehub_guard.mode))", env={"SAFEHUB_GUARD": "Warn"})
    assert r.json == "warn"
    r = target.run("import safehub_guard, json; print(json.dumps(safehub_guard.mode))", env={"SAFEHUB_GUARD": "bogus"})
    assert r.json == "block" and "unknown SAFEHUB_GUARD" in r.stderr


def test_importing_torch_wraps_load_before_anyone_captures_it(target):
    r = target.run('''
        import json, torch, torch.serialization as s
        from torch.serialization import load
        print(json.dumps([torch.load is s.load, load is s.load, hasattr(s.load, "__safehub_guard__")]))
    ''')
    assert r.json == [True, True, True]


def test_status_command_reports_active(target):
    r = safehub("guard", "status", "--python", target.python)
    assert r.stdout.startswith("active (mode block)"), r.stdout
    assert "-S" in r.stdout and "not covered" in r.stdout
