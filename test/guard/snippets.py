"""Python run inside the guarded interpreters (prepended to each test's snippet)."""

PRE = r'''
import io, json, os, sys
F = json.load(open("fixtures.json"))
MARKER = os.environ["MARKER"]

def attempt(fn):
    """Outcome of one load as a dict: loaded keys, or the exception's class chain."""
    try:
        v = fn()
    except Exception as e:
        mro = [c.__name__ for c in type(e).__mro__]
        return {"ok": False, "type": type(e).__name__, "mro": mro, "refused": "Refused" in mro,
                "msg": str(e)[:500]}
    if isinstance(v, dict):
        return {"ok": True, "keys": sorted(map(str, v))}
    return {"ok": True, "keys": type(v).__name__}

def out(**kw):
    kw["marker"] = os.path.exists(MARKER)
    print(json.dumps(kw))
'''


def code(body):
    import textwrap
    return PRE + textwrap.dedent(body)
