# Writes malicious pickles as bytes with pickle.dumps of __reduce__ objects.
# Nothing here is ever unpickled; the payloads only name harmless commands.
# Run with: /usr/bin/python3 gen_malicious.py
import codecs, io, os, pickle, zipfile
import torch

here = os.path.dirname(os.path.abspath(__file__))


def write(name, data):
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)


class System:
    def __reduce__(self):
        return (os.system, ("true",))


class Nested:
    def __init__(self, inner):
        self.inner = inner

    def __reduce__(self):
        return (pickle.loads, (self.inner,))


class Getoutput:
    def __reduce__(self):
        import subprocess
        return (subprocess.getoutput, ("true",))


for proto in range(6):
    write("evil_p%d.pkl" % proto, pickle.dumps({"weights": [1, 2], "x": System()}, protocol=proto))

inner = pickle.dumps(Getoutput(), protocol=2)
write("evil_nested_p2.pkl", pickle.dumps(Nested(inner), protocol=2))  # bytes via _codecs.encode
write("evil_nested_p4.pkl", pickle.dumps(Nested(inner), protocol=4))  # bytes via BINBYTES

buf = io.BytesIO()
torch.save({"w": torch.zeros(2), "x": System()}, buf)
with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
    (name,) = [n for n in z.namelist() if n.endswith("/data.pkl")]
    write("evil_torch.data.pkl", z.read(name))
