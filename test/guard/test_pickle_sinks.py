"""The pickle.find_class audit hook: deny-listed globals refused in every loader,
while multiprocessing and joblib (which pickle functions and exceptions) keep working."""

import pytest

from snippets import code

SINKS = {
    "pickle.load": 'pickle.load(open("pickles/system.pkl", "rb"))',
    "pickle.loads exec": 'pickle.loads(open("pickles/deny.pkl", "rb").read())',
    "pickle._loads": 'pickle._loads(open("pickles/system.pkl", "rb").read())',
    "protocol 4 dotted": 'pickle.loads(open("pickles/dotted.pkl", "rb").read())',
    "numpy object array": 'numpy.load("pickles/objarray.npy", allow_pickle=True)',
    "numpy raw pickle": 'numpy.load("pickles/system.pkl", allow_pickle=True)',
    "joblib.load": 'joblib.load("pickles/payload.joblib")',
    "cloudpickle.loads": 'cloudpickle.loads(open("pickles/system.pkl", "rb").read())',
}


@pytest.mark.parametrize("sink", sorted(SINKS))
def test_deny_listed_pickle_refused(target, sink):
    r = target.run(code('''
        import pickle, numpy, joblib
        try:
            from joblib.externals import cloudpickle  # Debian's joblib vendors it
        except ImportError:
            import cloudpickle  # newer joblib depends on it
        import safehub_guard
        out(r=attempt(lambda: %s))
    ''' % SINKS[sink]))
    res = r.json["r"]
    assert not res["ok"], res
    assert not r.json["marker"] and not target.payload_ran()
    # numpy re-wraps the error; the guard's own stderr message always shows.
    assert "safehub guard: refused to unpickle" in r.stderr, r.stderr
    if not sink.startswith("numpy"):
        assert res["refused"] and "UnpicklingError" in res["mro"]


def test_plain_global_passes_the_hook_but_torch_path_policy_stops_it(target):
    # io.open is not deny-listed: the hook is narrow on purpose.
    r = target.run(code('''
        import pickle
        pickle.load(open("pickles/plain.pkl", "rb"))
        out()
    '''))
    assert r.json["marker"]


def test_own_joblib_file_loads(target):
    r = target.run(code('''
        import joblib
        v = joblib.load("pickles/own.joblib")
        out(keys=sorted(v), arr=v["arr"].tolist())
    '''))
    assert r.json["keys"] == ["arr", "own"] and r.json["arr"] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("method", ["spawn", "forkserver", "fork"])
def test_multiprocessing_pool_works(target, method):
    r = target.run(code('''
        import multiprocessing as mp, subprocess, sys
        from concurrent.futures import ProcessPoolExecutor

        class Scaler:
            def __init__(self, k): self.k = k
            def scale(self, x): return x * self.k

        def fail(_):
            raise subprocess.CalledProcessError(3, ["false"])

        def guard_in_child(_):
            import sys
            return "safehub_guard" in sys.modules and sys.modules["safehub_guard"].status()[0]

        if __name__ == "__main__":
            ctx = mp.get_context(%r)
            with ctx.Pool(2) as pool:
                doubled = pool.map(Scaler(2).scale, range(5))
                child = pool.map(guard_in_child, range(2))
            with ProcessPoolExecutor(1, mp_context=ctx) as ex:
                try:
                    ex.submit(fail, 0).result()
                    err = None
                except subprocess.CalledProcessError as e:
                    err = e.returncode
            out(doubled=doubled, child=child, err=err)
    ''' % method), timeout=600, script=True)
    assert r.json["doubled"] == [0, 2, 4, 6, 8]
    assert r.json["child"] == [True, True]
    assert r.json["err"] == 3


def test_joblib_parallel_loky_with_lambda(target):
    r = target.run(code('''
        from joblib import Parallel, delayed
        f = lambda x: x * x
        res = Parallel(n_jobs=2, backend="loky")(delayed(f)(i) for i in range(6))
        res2 = Parallel(n_jobs=2, backend="multiprocessing")(delayed(abs)(-i) for i in range(3))
        out(res=res, res2=res2)
    '''), timeout=600)
    assert r.json["res"] == [0, 1, 4, 9, 16, 25] and r.json["res2"] == [0, 1, 2]
