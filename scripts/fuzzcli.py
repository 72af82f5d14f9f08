"""What fuzz-trace.py and fuzz-minimize.py share: the checks of their
arguments, made before any work, and running uxen-replay on a trace."""
import os
import subprocess


def executable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def output_refusal(output, finding, what):
    """Why OUTPUT cannot take the result made from FINDING (named WHAT in
    the message), or None: it cannot be written, or it is the finding,
    which would be lost."""
    out_dir = os.path.dirname(os.path.abspath(output)) if output else ""
    if not output or os.path.isdir(output) or not os.path.isdir(out_dir) or \
            not os.access(out_dir, os.W_OK):
        return "cannot write %r" % output
    if os.path.exists(output) and os.path.samefile(finding, output):
        return "%s is %s itself: name another output (the finding is kept)" % (output, what)
    return None


def replay(tool, path, timeout=None):
    """uxen-replay (run as fuzz-minimize and make test run it: invariants
    after every event) on a trace: its exit status, as the OS gives it
    (negative: a signal), and its lines on stderr. TimeoutExpired passes."""
    p = subprocess.run([tool, "-q", "--check-every", "1", path],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stderr.decode("utf-8", "replace").strip().splitlines()


def sanitizer_summary(lines):
    """The SUMMARY line of a sanitizer's report (its kind, file, line and
    function, without addresses), or None."""
    return next((x for x in lines if x.startswith("SUMMARY:")), None)
