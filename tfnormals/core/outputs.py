"""Writing outputs safely: temporary name then rename, stale temporaries of killed runs, output folders.

- `atomic_output(path)`: a writer fills a hidden temporary file beside `path`, renamed into place
  only when complete, so a kill leaves a temporary file and never a truncated output.
- Temporary names carry the writer's host and process id (`.tmp-<host>-<pid>-<random><ext>`), so
  `remove_stale_temps` can tell a killed run's leftovers (its process is gone) from the work in
  progress of another process writing into the same folder (a render-farm task).
- `written_together(paths)`: outputs that stand or fall together (one frame's passes) appear all at
  once, in a given order, or not at all.
- `one_writer_each(items, claim_of)`: runs writing into one folder at once (two predicts of a shot)
  never do the same item twice: each item is claimed with a lock on `.tmp-claim-<output name>`,
  which the system releases when its process dies, so a killed run's claims are never in the way.
- `check_writable_dir` answers "can this run write its outputs there?" before any work starts,
  `check_not_input` refuses an output path that is one of the run's inputs, and
  `created_dirs_removed_if_empty` keeps a failed run from leaving empty folders behind.
"""

import contextlib
import fcntl
import os
import re
import shutil
import socket
import tempfile
import time

from tfnormals.core import errors, layout

_HOST = socket.gethostname().replace("-", "_") or "host"
_TEMP_NAME = re.compile(rf"^{re.escape(layout.TMP_PREFIX)}(?P<host>.+)-(?P<pid>\d+)-[A-Za-z0-9_]+(\..*)?$")

# A temporary file from another host is left alone for this long (its writer may still be running).
FOREIGN_TEMP_MAX_AGE_S = 24 * 3600


def _temp_prefix():
    return f"{layout.TMP_PREFIX}{_HOST}-{os.getpid()}-"


@contextlib.contextmanager
def atomic_output(path):
    """Yield a temporary path beside `path` (same extension) and rename it into place on success.

    An interrupted writer leaves only a hidden temporary file, never a truncated `path`; a writer
    that raises leaves nothing.
    """
    with written_together([path]) as temporary:
        yield temporary[path]


@contextlib.contextmanager
def written_together(paths):
    """Yield {path: temporary path beside it (same extension)} for outputs that stand or fall together.

    The block writes each file to its temporary path; when it succeeds they are renamed into place in
    the order of `paths` (put last the file a resume check trusts), and when it raises none of them
    appears and no temporary is left.
    """
    temporary = {}
    try:
        for path in paths:
            directory = os.path.dirname(os.path.abspath(path)) or "."
            os.makedirs(directory, exist_ok=True)
            fd, temporary[path] = tempfile.mkstemp(prefix=_temp_prefix(), dir=directory,
                                                   suffix=os.path.splitext(str(path))[1] or ".tmp")
            os.close(fd)
        yield dict(temporary)
        umask = os.umask(0)
        os.umask(umask)
        for path, tmp in temporary.items():
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file normal permissions
            os.replace(tmp, path)
    finally:
        for tmp in temporary.values():
            if os.path.exists(tmp):
                os.remove(tmp)


@contextlib.contextmanager
def atomic_output_dir(path):
    """atomic_output for a folder: yield a temporary folder beside `path`, which replaces `path` on success."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=_temp_prefix(), suffix="." + os.path.basename(os.path.abspath(path)), dir=parent)
    try:
        yield tmp
        if os.path.isdir(path):
            shutil.rmtree(path)
        os.rename(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale_temp(path, now=None):
    """True for a temporary file whose writer is gone: made on this host by a process that no longer
    runs, made by an older tfnormals (no host/pid in its name), or made on another host over a day ago."""
    match = _TEMP_NAME.match(os.path.basename(path))
    if not match:
        return True
    if match.group("host") == _HOST:
        return not _process_alive(int(match.group("pid")))
    return (now or time.time()) - os.path.getmtime(path) > FOREIGN_TEMP_MAX_AGE_S


def remove_stale_temps(directory):
    """Delete stale temporaries (see is_stale_temp) directly in `directory`; returns their names.

    Temporary folders are removed only when named by atomic_output_dir (other tools, such as the
    renderer, keep their own `.tmp-*` folders).
    """
    removed = []
    if not os.path.isdir(directory):
        return removed
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if not name.startswith(layout.TMP_PREFIX):
            continue
        if name.startswith(_CLAIM_PREFIX):
            fd = _lock(path, wait=False)  # held: another run is writing that output
            if fd is not None:
                _release(path, fd)
                removed.append(name)
        elif os.path.isfile(path) and is_stale_temp(path):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
                removed.append(name)
        elif os.path.isdir(path) and _TEMP_NAME.match(name) and is_stale_temp(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(name)
    return removed


def check_writable_dir(path, name):
    """Raise errors.UsageError unless `path` is a folder, or can be made one, that this process can write in.

    Creates nothing: a probe file is made and removed in the deepest folder of `path` that exists.

    Args:
      path: the output folder.
      name: what to call it in the message, e.g. "--output".
    """
    path = os.path.abspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise errors.UsageError(f"{name}: {path} is a file, not a folder")
    existing = path
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise errors.UsageError(f"{name}: cannot create {path}: {existing} is a file")
    try:
        fd, probe = tempfile.mkstemp(prefix=_temp_prefix() + "probe", dir=existing)
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        what = f"write in {existing}" if existing == path else f"create {path} in {existing}"
        raise errors.UsageError(f"{name}: cannot {what} ({e.strerror})") from None


def check_not_input(output, inputs, name):
    """Raise errors.UsageError when the output path `output` is one of the run's inputs, which writing it would
    destroy (the same file under another spelling or through a link counts).

    Args:
      output: the output file the run would write.
      inputs: {what to call the input, e.g. "--plate": its path}; empty paths are ignored.
      name: what to call the output in the message, e.g. "--output".
    """
    for what, path in inputs.items():
        if path and _same_file(output, path):
            raise errors.UsageError(f"{name}: {output} is the {what} file, which writing it would destroy; "
                                    "give another output path")


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return os.path.realpath(a) == os.path.realpath(b)


def check_writable_file(path, name):
    """check_writable_dir for the folder of an output file, and the file itself must not be a folder."""
    if os.path.isdir(path):
        raise errors.UsageError(f"{name}: {path} is a folder; give a file name")
    check_writable_dir(os.path.dirname(os.path.abspath(path)), name)


@contextlib.contextmanager
def created_dirs_removed_if_empty(path):
    """Run a block that may create the folder `path` (and parents); afterwards remove those it created
    that are still empty, so a run that fails or writes nothing leaves no empty folders."""
    missing, p = [], os.path.abspath(path)
    while not os.path.exists(p):
        missing.append(p)
        p = os.path.dirname(p)
    try:
        yield
    finally:
        for folder in missing:  # deepest first
            try:
                os.rmdir(folder)
            except OSError:
                break


_CLAIM_PREFIX = f"{layout.TMP_PREFIX}claim-"


def _claim_path(output):
    return os.path.join(os.path.dirname(os.path.abspath(output)), _CLAIM_PREFIX + os.path.basename(output))


def _lock(path, wait):
    """A descriptor holding the exclusive lock of the claim file `path` (created if needed), or None when another
    process holds it and `wait` is false. On a file system without locks every claim succeeds (runs are then not
    kept apart, as before claims existed)."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return None
        except OSError:  # ENOLCK, EOPNOTSUPP: no locks here
            return fd
        try:  # the previous holder removes the file as it lets go: the lock counts only on the file at `path`
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def _release(path, fd):
    """Remove a claim file while still holding its lock, then let go."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
    os.close(fd)


def one_writer_each(items, claim_of, *, in_order=False):
    """Yield each of `items` while this process alone holds its claim, so that runs writing into one folder at
    once never do the same item twice: an item another run holds is put off to the end (with `in_order`, waited
    for: work that depends on the items before it), and yielded once that run lets go of it (the caller's resume
    check then finds it done, or does it if that run failed).

    Args:
      items: the work, in order.
      claim_of: item → the output path that stands for it (its claim is `.tmp-claim-<name>` beside it).
      in_order: yield the items in their order, waiting for a claim held elsewhere.
    """
    held_elsewhere = []
    for item in items:
        path = _claim_path(claim_of(item))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = _lock(path, wait=in_order)
        if fd is None:
            held_elsewhere.append(item)
            continue
        try:
            yield item
        finally:
            _release(path, fd)
    for item in held_elsewhere:
        path = _claim_path(claim_of(item))
        fd = _lock(path, wait=True)
        try:
            yield item
        finally:
            _release(path, fd)
