"""Where does a file come from? The user's own, or foreign (downloaded, someone else's, unknown).

Environment variables are read at each decision: scripts often set HF_HOME or
SAFEHUB_GUARD_TRUSTED after start-up.
"""

import os

OWN, FOREIGN, UNKNOWN = "own", "foreign", "unknown"
_HF_REPO_PREFIXES = ("models--", "datasets--", "spaces--")


class Source(object):
    __slots__ = ("cls", "path", "why")

    def __init__(self, cls, path, why):
        self.cls, self.path, self.why = cls, path, why


def source_path(f):
    """The file behind f: a str/bytes/PathLike, or a file object whose .name is an existing file."""
    try:
        if isinstance(f, (str, bytes)) or hasattr(f, "__fspath__"):
            return os.path.abspath(os.fsdecode(os.fspath(f)))
        name = getattr(f, "name", None)
        if isinstance(name, (str, bytes)):
            name = os.fsdecode(name)
            if os.path.isfile(name) and _same_file(f, name):
                return os.path.abspath(name)
    except (TypeError, ValueError, OSError):
        pass
    return None


def _same_file(f, name):
    """A stream's .name is only a label (a zip member's, say): believe it
    only when the stream's own descriptor is that file."""
    try:
        a, b = os.fstat(f.fileno()), os.stat(name)
    except (AttributeError, OSError, ValueError, TypeError):
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _local_dir_download(real):
    """hf_hub_download/snapshot_download(local_dir=...) leaves
    <local_dir>/.cache/huggingface/download/<relpath>.metadata beside the
    real files it writes into a user's folder."""
    d, rel = os.path.dirname(real), os.path.basename(real)
    while True:
        meta = os.path.join(d, ".cache", "huggingface", "download", rel + ".metadata")
        if os.path.isfile(meta):
            return True
        parent = os.path.dirname(d)
        if parent == d:
            return False
        rel = os.path.join(os.path.basename(d), rel)
        d = parent


def _cache_home():
    return os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")


def download_caches():
    """(label, dir) pairs for the download caches, as configured right now."""
    env = os.environ
    hub = env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE")
    if not hub:
        hf_home = env.get("HF_HOME") or os.path.join(_cache_home(), "huggingface")
        hub = os.path.join(os.path.expanduser(hf_home), "hub")
    torch_home = env.get("TORCH_HOME") or os.path.join(_cache_home(), "torch")
    return (
        ("the Hugging Face cache", os.path.expanduser(hub)),
        ("the torch hub cache", os.path.join(os.path.expanduser(torch_home), "hub")),
        ("~/Downloads", os.path.join(os.path.expanduser("~"), "Downloads")),
    )


def _under(path, root):
    """path is root or inside it, on a path-component boundary (both already real)."""
    if not root:
        return False
    root = root.rstrip(os.sep) or os.sep
    return path == root or path.startswith(root + os.sep) or root == os.sep


def trusted_dirs():
    dirs = []
    for d in (os.environ.get("SAFEHUB_GUARD_TRUSTED") or "").split(os.pathsep):
        d = os.path.expanduser(d.strip())
        if d and os.path.isabs(d):
            dirs.append(os.path.realpath(d))
    return dirs


def _hf_layout(path):
    """.../models--org--name/{snapshots,blobs}/...: a hub cache wherever cache_dir= put it."""
    parts = path.split(os.sep)
    for i in range(len(parts) - 1):
        if parts[i].startswith(_HF_REPO_PREFIXES) and parts[i + 1] in ("snapshots", "blobs"):
            return True
    return False


def classify(f):
    """Classify the source of f (an allow() window is the caller's business)."""
    path = source_path(f)
    if path is None:
        return Source(UNKNOWN, None, "a stream without a file path (origin unknown)")
    real = os.path.realpath(path)
    for d in trusted_dirs():
        if _under(real, d):
            return Source(OWN, real, "under SAFEHUB_GUARD_TRUSTED (%s)" % d)
    for label, d in download_caches():
        rd = os.path.realpath(d)
        if _under(real, rd) or _under(path, d):
            return Source(FOREIGN, real, "file in %s (%s)" % (label, d))
    if _hf_layout(real) or _hf_layout(path):
        return Source(FOREIGN, real, "file in a Hugging Face cache layout (models--*/snapshots or blobs)")
    if _local_dir_download(real):
        return Source(FOREIGN, real, "downloaded from the Hub into a local folder (local_dir=)")
    try:
        owner = os.stat(real).st_uid
    except OSError:
        return Source(OWN, real, "not found (torch will say so)")
    euid = os.geteuid()
    if owner != euid:
        return Source(FOREIGN, real, "owned by uid %d, not by you (uid %d)" % (owner, euid))
    return Source(OWN, real, "your own file")
