"""`h2bridge -t -c FILE`: every shipped example checks clean; bad configs give
`FILE:LINE:COL: key: what is wrong` (1-based line and column, FILE as given on
the command line) and exit 1; --help and --version.

Examples: config/**/*.yaml|yml and the ```yaml fenced blocks of docs/**/*.md
(a block containing `# snippet` is not a complete config and is left out).
Files an example references (cert, key, ca, client_ca, token_file,
hmac_key_file) are created in a scratch copy when missing — absolute paths are
rewritten into the scratch directory — so the check is about the schema.
"""
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO, require_binary

CERT_KEYS = {"cert", "client_certificate_cert"}
CA_KEYS = {"ca", "client_ca"}
KEY_KEYS = {"key"}
SECRET_KEYS = {"token_file", "hmac_key_file"}
# "configuration OK", or with the file named: "configuration FILE OK"
OK_RE = re.compile(r"configuration (\S+ )?OK")
FILE_KEYS = CERT_KEYS | CA_KEYS | KEY_KEYS | SECRET_KEYS


def collect_examples():
    out = []
    for d in (REPO / "config",):
        if d.is_dir():
            for p in sorted(d.rglob("*")):
                if p.suffix in (".yaml", ".yml") and p.is_file():
                    out.append(("file", p, None))
    docs = REPO / "docs"
    if docs.is_dir():
        for md in sorted(docs.rglob("*.md")):
            text = md.read_text(errors="replace")
            for m in re.finditer(r"^```ya?ml[^\n]*\n(.*?)^```", text, re.S | re.M):
                block = m.group(1)
                if "# snippet" in block:
                    continue
                line = text.count("\n", 0, m.start()) + 1
                out.append(("doc", md, (line, block)))
    return out


EXAMPLES = collect_examples()


def example_id(e):
    kind, p, extra = e
    rel = p.relative_to(REPO)
    return "%s:%d" % (rel, extra[0]) if kind == "doc" else str(rel)


def file_refs(node, out):
    """(key, value) of every file-valued key in a parsed config."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in FILE_KEYS and isinstance(v, str):
                out.append((k, v))
            else:
                file_refs(v, out)
    elif isinstance(node, list):
        for v in node:
            file_refs(v, out)
    return out


def materialize(text, where, certs):
    """Creates missing referenced files under |where|; returns the config text
    with absolute missing paths rewritten to point there."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    for key, val in file_refs(doc, []):
        path = Path(val)
        target = path if not path.is_absolute() else where / "abs" / path.relative_to("/")
        if path.is_absolute():
            if path.exists():
                continue
            text = text.replace(val, str(target))
        else:
            target = where / path
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if key in KEY_KEYS:
            shutil.copy(certs.server_key, target)
        elif key in CA_KEYS:
            shutil.copy(certs.ca, target)
        elif key in CERT_KEYS:
            shutil.copy(certs.server_cert, target)
        else:
            target.write_text("test-secret-0123456789abcdef\n")
    return text


def run_check(path, cwd, timeout=20):
    exe = require_binary()
    r = subprocess.run([exe, "-t", "-c", str(path)], cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=timeout)
    return r


def test_examples_exist():
    assert EXAMPLES, "no config examples found in config/ or docs/ (DESIGN §5: every example is checked)"


@pytest.mark.parametrize("example", EXAMPLES, ids=[example_id(e) for e in EXAMPLES])
def test_example_checks_ok(example, tmp_path, certs):
    kind, p, extra = example
    if kind == "file":
        scratch = tmp_path / "cfg"
        shutil.copytree(p.parent, scratch)
        cfg = scratch / p.name
        text = cfg.read_text()
    else:
        scratch = tmp_path
        cfg = scratch / "example.yaml"
        text = extra[1]
    text = materialize(text, scratch, certs)
    # included rule files may reference files too
    for inc in scratch.rglob("*.y*ml"):
        if inc != cfg:
            inc.write_text(materialize(inc.read_text(), scratch, certs))
    cfg.write_text(text)
    r = run_check(cfg.name, scratch)
    assert r.returncode == 0, "h2bridge -t rejected %s:\n--- stdout ---\n%s\n--- stderr ---\n%s\n--- config ---\n%s" % (
        example_id(example), r.stdout, r.stderr, text)
    assert OK_RE.search(r.stdout + r.stderr), r.stdout + r.stderr


# ---------------------------------------------------------------- bad configs

BASE = """\
log: { level: info, access: stderr, format: json }
defaults:
  response_timeout: 2s
  connect_timeout: 1s
listeners:
  - name: plain
    listen: 127.0.0.1:18080
upstreams:
  - name: b1
    address: 127.0.0.1:18081
    protocol: http/1.1
routes:
  - match: { listener: plain, path: /x }
    to: { upstream: b1 }
"""


def mutate(lineno, new):
    lines = BASE.splitlines()
    lines[lineno - 1] = new
    return "\n".join(lines) + "\n"


# id, text, line, col, word that must appear in the message
BAD = [
    ("unknown-key", mutate(4, "  connect_timeot: 1s"), 4, 3, "connect_timeot"),
    ("bad-duration", mutate(3, "  response_timeout: 2 parsecs"), 3, 21, "response_timeout"),
    ("missing-upstream", mutate(14, "    to: { upstream: nope }"), 14, 21, "nope"),
    ("bad-listen", mutate(7, "    listen: 127.0.0.1:notaport"), 7, 13, "listen"),
    ("bad-listen-port-range", mutate(7, "    listen: 127.0.0.1:70000"), 7, 13, "listen"),
    ("yaml-syntax", mutate(4, "  connect_timeout: 1s: 2"), None, None, None),
    # h2x extensions: the names come from the extension registry
    ("unknown-extension", mutate(7, "    listen: 127.0.0.1:18080\n    engine: h2x\n    extensions: [ex_headers, nope]"),
     9, 30, "expected one of: ex_headers, p2p, symmetric"),
    ("extension-twice", mutate(7, "    listen: 127.0.0.1:18080\n    engine: h2x\n    extensions: [p2p, p2p]"),
     9, 17, "listed twice"),
    ("extension-needs-h2x", mutate(7, "    listen: 127.0.0.1:18080\n    extensions: [p2p]"),
     8, 17, "engine: h2x"),
]


def yaml_mark(text):
    """1-based (line, col) where libyaml reports the syntax error."""
    try:
        yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.MarkedYAMLError as e:
        return e.problem_mark.line + 1, e.problem_mark.column + 1
    raise AssertionError("test bug: text is valid YAML")


def test_base_config_is_valid(tmp_path):
    (tmp_path / "base.yaml").write_text(BASE)
    r = run_check("base.yaml", tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert OK_RE.search(out), out
    assert "/x" in out and "b1" in out, "the route pipeline should be printed:\n" + out


@pytest.mark.parametrize("case_id,text,line,col,word", BAD, ids=[b[0] for b in BAD])
@pytest.mark.parametrize("as_given", ["relative", "absolute"])
def test_bad_config(tmp_path, case_id, text, line, col, word, as_given):
    (tmp_path / "bad.yaml").write_text(text)
    if line is None:
        line, col = yaml_mark(text)
    name = "bad.yaml" if as_given == "relative" else str(tmp_path / "bad.yaml")
    r = run_check(name, tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 1, "exit %d, want 1:\n%s" % (r.returncode, out)
    prefix = "%s:%d:%d: " % (name, line, col)
    lines = [ln for ln in out.splitlines() if ln.startswith(prefix)]
    assert lines, "no line starts with %r:\n%s" % (prefix, out)
    if word:
        assert any(word in ln for ln in lines), "message does not name %r: %r" % (word, lines)
    assert not OK_RE.search(out), out


def test_unserved_extension_is_refused(tmp_path):
    """A known extension whose frames nothing handles yet: -t passes with a
    warning naming it, and -c refuses to start, rather than serve half of it."""
    text = mutate(7, "    listen: 127.0.0.1:18080\n    engine: h2x\n    extensions: [symmetric]")
    (tmp_path / "ext.yaml").write_text(text)
    r = run_check("ext.yaml", tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and OK_RE.search(out), out
    assert "the h2x extension symmetric is not implemented yet" in out, out
    exe = require_binary()
    r = subprocess.run([exe, "-c", "ext.yaml"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=20)
    assert r.returncode != 0, r.stdout + r.stderr
    assert "ext.yaml:6:5: listener plain: the h2x extension symmetric is not implemented yet" in r.stderr, r.stderr


@pytest.mark.parametrize("key", ["token_file", "tls.ca"])
def test_unreadable_file_fails_check(tmp_path, key):
    """Files read at start rather than at load (CAs, tokens, HMAC keys) are
    checked by -t too, as nginx -t loads its certificates: file:line:col of
    the item, the key, the path and the reason; exit 1."""
    (tmp_path / "tok").write_text("t\n")
    (tmp_path / "ca.pem").write_text("x\n")
    tok = "gone-token" if key == "token_file" else "tok"
    ca = "gone-ca.pem" if key == "tls.ca" else "ca.pem"
    text = ("upstreams: [ { name: be, address: 127.0.0.1:9, protocol: h2c } ]\n"
            "connectors:\n"
            "  - name: k\n"
            "    gateways: [127.0.0.1:9]\n"
            "    protocol: rh2\n"
            "    tls: { sni: localhost, ca: %s }\n"
            "    token_file: %s\n"
            "    authorities: [a.example]\n"
            "routes: [ { match: { connector: k }, to: { upstream: be } } ]\n" % (ca, tok))
    (tmp_path / "k.yaml").write_text(text)
    r = run_check("k.yaml", tmp_path)
    out = r.stdout + r.stderr
    gone = tok if key == "token_file" else ca
    want = "k.yaml:3:5: connectors[k].%s: cannot read '" % key
    lines = [ln for ln in out.splitlines() if ln.startswith(want)]
    assert r.returncode == 1 and lines, (want, out)
    assert gone in lines[0] and "No such file or directory" in lines[0], lines
    assert not OK_RE.search(out), out


def test_missing_file(tmp_path):
    r = run_check("nonexistent.yaml", tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "nonexistent.yaml" in r.stdout + r.stderr


# ---------------------------------------------------------------- CLI

def test_help():
    exe = require_binary()
    r = subprocess.run([exe, "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=10)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "-c" in out and "-t" in out, out


def test_version():
    exe = require_binary()
    r = subprocess.run([exe, "--version"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=10)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert re.search(r"\d+\.\d+", out), "no version number in %r" % out
