"""Config formats end to end through `frps verify` / `frpc verify` (config.md 2, 3, 6.1,
11): the same configs as TOML, YAML and JSON verify identically, the same mistakes
give the same messages, environment templates, and frpc `includes` (globs, mixed
formats, strict mode, error wrapping, paths relative to the working directory)."""

from pathlib import Path

import pytest

from cfrp_harness import REPO, SPEC, assert_exit

FIXTURES = REPO / "tests" / "unit" / "fixtures" / "config"
NAMES = ["frps", "frpc", "frps_full_example", "frpc_full_example"]


def verify(cfrp, prog, path, *args):
    res = cfrp.run(prog, "verify", "-c", str(path), *args)
    return res


@pytest.mark.parametrize("name", NAMES)
def test_equivalent_forms_verify_alike(cfrp, name):
    prog = name[:4]
    paths = [SPEC / "examples" / "conf" / f"{name}.toml", FIXTURES / f"{name}.yaml",
             FIXTURES / f"{name}.json"]
    for path in paths:
        res = verify(cfrp, prog, path)
        assert_exit(res, 0)
        assert res.stdout.splitlines()[-1] == f"{prog}: the configuration file {path} syntax is ok"
    outs = {verify(cfrp, prog, p).stdout.replace(str(p), "F") for p in paths}
    assert len(outs) == 1, outs


# The same mistake in three formats: (prog, toml, yaml, json, expected stdout)
SAME_ERRORS = [
    ("frps", "bindPort = 70000\n", "bindPort: 70000\n", '{"bindPort": 70000}',
     "bindPort: port number 70000 must be in the range 0..65535\n"),
    ("frpc", '[[proxies]]\nname = "a"\ntype = "tcp"\nlocalPort = 70000\n',
     "proxies:\n  - name: a\n    type: tcp\n    localPort: 70000\n",
     '{"proxies": [{"name": "a", "type": "tcp", "localPort": 70000}]}',
     "proxy a: localPort: localPort: port number 70000 must be in the range 0..65535\n"),
    ("frpc", 'user = "u1"\n[[proxies]]\nname = "web"\ntype = "http"\n',
     "user: u1\nproxies:\n  - {name: web, type: http}\n",
     '{"user": "u1", "proxies": [{"name": "web", "type": "http"}]}',
     "proxy u1.web: subdomain and custom domains should not be both empty\n"),
    ("frps", 'log.level = "INFO"\n', "log: {level: INFO}\n", '{"log": {"level": "INFO"}}',
     "invalid log level, optional values are [trace debug info warn error]\n"),
]


@pytest.mark.parametrize("prog,toml,yaml,js,want", SAME_ERRORS,
                         ids=[c[4].split(":")[0] for c in SAME_ERRORS])
def test_same_mistake_same_message(cfrp, prog, toml, yaml, js, want):
    for name, text in (("c.toml", toml), ("c.yaml", yaml), ("c.json", js)):
        cfrp.write(name, text)
        res = verify(cfrp, prog, name)
        assert_exit(res, 1)
        assert res.stdout == want, (name, res)


def test_decode_errors_per_format(cfrp):
    """Decode errors carry the YAML prefix only for YAML; JSON keeps number literals."""
    cases = [
        ("s.toml", 'bindPort = "1"\n',
         "json: cannot unmarshal string into Go struct field ServerConfig.bindPort of type int"),
        ("s.yaml", 'bindPort: "1"\n',
         "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go struct "
         "field ServerConfig.bindPort of type int"),
        ("s.json", '{"bindPort": "1"}',
         "json: cannot unmarshal string into Go struct field ServerConfig.bindPort of type int"),
        ("f.json", '{"bindPort": 7000.0}',
         "json: cannot unmarshal number 7000.0 into Go struct field ServerConfig.bindPort of type int"),
        ("e.json", '{"bindPort": 7e3}',
         "json: cannot unmarshal number 7e3 into Go struct field ServerConfig.bindPort of type int"),
        ("f.yaml", "bindPort: .inf\n", "error converting YAML to JSON: json: unsupported value: +Inf"),
    ]
    for name, text, want in cases:
        cfrp.write(name, text)
        res = verify(cfrp, "frps", name)
        assert_exit(res, 1)
        assert res.stdout == want + "\n", (name, res)
    # whole floats are accepted from TOML and YAML (Go re-encodes them as JSON ints)
    for name, text in (("w.toml", "bindPort = 7000.0\n"), ("w.yaml", "bindPort: 7000.0\n")):
        cfrp.write(name, text)
        assert_exit(verify(cfrp, "frps", name), 0)


def test_yaml_coercion_frps_only(cfrp):
    """config.md 2.5: frps coerces YAML numbers into string fields as Go's value
    (hex ints become decimal), frpc does not."""
    cfrp.write("s.yaml", "auth:\n  token: 0x1F\nsubDomainHost: 1.5\nbindAddr: .inf\n"
                         "httpPlugins:\n  - {name: 7, addr: 1, path: 2, ops: [Login]}\n")
    assert_exit(verify(cfrp, "frps", "s.yaml"), 0)
    cfrp.write("c.yaml", "auth:\n  token: 0x1F\n")
    res = verify(cfrp, "frpc", "c.yaml")
    assert_exit(res, 1)
    assert res.stdout == ("error unmarshaling JSON: while decoding JSON: json: cannot unmarshal number "
                          "into Go struct field AuthClientConfig.auth.token of type string\n")


@pytest.mark.parametrize("ext", ["toml", "yaml", "json"])
def test_env_templates(cfrp, monkeypatch, ext):
    monkeypatch.setenv("CFRP_E2E_PORT", "70001")
    monkeypatch.setenv("CFRP_E2E_PPV", "v3+<&>'")
    texts = {
        "toml": 'bindPort = {{ .Envs.CFRP_E2E_PORT }}\n',
        "yaml": 'bindPort: {{ .Envs.CFRP_E2E_PORT }}\n',
        "json": '{"bindPort": {{ .Envs.CFRP_E2E_PORT }}}',
    }
    cfrp.write(f"s.{ext}", texts[ext])
    res = verify(cfrp, "frps", f"s.{ext}")
    assert_exit(res, 1)
    assert res.stdout == "bindPort: port number 70001 must be in the range 0..65535\n"
    # decisions.md 1: values are inserted as text/template does, without HTML escaping
    proxies = {
        "toml": '[[proxies]]\nname = "a"\ntype = "tcp"\n'
                'transport.proxyProtocolVersion = "{{ .Envs.CFRP_E2E_PPV }}"\n',
        "yaml": 'proxies:\n  - name: a\n    type: tcp\n    transport:\n'
                '      proxyProtocolVersion: "{{ .Envs.CFRP_E2E_PPV }}"\n',
        "json": '{"proxies": [{"name": "a", "type": "tcp", "transport": '
                '{"proxyProtocolVersion": "{{ .Envs.CFRP_E2E_PPV }}"}}]}',
    }
    cfrp.write(f"c.{ext}", proxies[ext])
    res = verify(cfrp, "frpc", f"c.{ext}")
    assert_exit(res, 1)
    assert res.stdout == "proxy a: not support proxy protocol version: v3+<&>'\n"


def test_env_template_unset_and_index(cfrp, monkeypatch):
    monkeypatch.delenv("CFRP_E2E_UNSET", raising=False)
    monkeypatch.setenv("CFRP-E2E-DASH", "debug")
    cfrp.write("s.toml", 'auth.token = "{{ .Envs.CFRP_E2E_UNSET }}"\n'
                         'log.level = "{{ index .Envs "CFRP-E2E-DASH" }}"\n')
    assert_exit(verify(cfrp, "frps", "s.toml"), 0)


def test_readme_port_range_pair(cfrp, monkeypatch):
    """The README example renders eight tcp proxies; a second proxy file with the same
    names shows they were really produced (an include with a bad one fails by name)."""
    monkeypatch.setenv("FRP_SERVER_ADDR", "127.0.0.1")
    text = ('serverAddr = "{{ .Envs.FRP_SERVER_ADDR }}"\n'
            '{{- range $_, $v := parseNumberRangePair "6000-6006,6007" "6000-6006,6007" }}\n'
            '[[proxies]]\nname = "tcp-{{ $v.First }}"\ntype = "tcp"\nlocalPort = {{ $v.First }}\n'
            'remotePort = {{ $v.Second }}\n{{- end }}\n')
    cfrp.write("c.toml", text)
    assert_exit(verify(cfrp, "frpc", "c.toml"), 0)
    bad = text.replace('"6000-6006,6007" "6000-6006,6007"', '"65534-65536" "1-3"')
    cfrp.write("bad.toml", bad)
    res = verify(cfrp, "frpc", "bad.toml")
    assert_exit(res, 1)
    assert res.stdout == ("proxy tcp-65536: localPort: localPort: port number 65536 must be in the "
                          "range 0..65535\n")


PROXY = '[[proxies]]\nname = "{}"\ntype = "tcp"\nlocalPort = 22\n'


def test_includes_mixed_formats_and_order(cfrp):
    cfrp.write("confd/b.toml", PROXY.format("b"))
    cfrp.write("confd/a.yaml", "proxies:\n  - name: a\n    type: http\n")  # invalid: no domains
    cfrp.write("confd/c.json", '{"proxies": [{"name": "c", "type": "tcp"}]}')
    cfrp.write("confd/d.toml/x.toml", PROXY.format("dir"))  # a directory: skipped
    cfrp.write("c.toml", 'user = "u"\nincludes = ["./confd/*"]\n' + PROXY.format("m"))
    res = verify(cfrp, "frpc", "c.toml")
    assert_exit(res, 1)
    assert res.stdout == "proxy u.a: subdomain and custom domains should not be both empty\n"
    cfrp.write("confd/a.yaml", "proxies:\n  - name: a\n    type: http\n    subdomain: s\n")
    assert_exit(verify(cfrp, "frpc", "c.toml"), 0)


def test_includes_errors(cfrp):
    base = Path(cfrp.tmp).resolve()
    cfrp.write("c.toml", 'includes = ["./nodir/*.toml"]\n')
    res = verify(cfrp, "frpc", "c.toml")
    assert_exit(res, 1)
    assert res.stdout == f"stat {base}/nodir: no such file or directory\n"
    # strict mode applies to included files; the error names the absolute path
    cfrp.write("inc/x.yaml", "proxies: []\nbogus: 1\n")
    cfrp.write("c.toml", 'includes = ["inc/*.yaml"]\n')
    res = verify(cfrp, "frpc", "c.toml")
    assert_exit(res, 1)
    assert res.stdout == (f"load additional config from {base}/inc/x.yaml error: error unmarshaling "
                          'JSON: while decoding JSON: json: unknown field "bogus"\n')
    assert_exit(verify(cfrp, "frpc", "c.toml", "--strict_config=false"), 0)
    # other top-level keys of an included file are ignored
    cfrp.write("inc/x.yaml", "serverPort: 99999999\nlog: {level: nope}\nproxies: []\n")
    assert_exit(verify(cfrp, "frpc", "c.toml"), 0)


def test_includes_relative_to_working_directory(cfrp):
    """A relative include is resolved against the working directory, not against the
    directory of the main file."""
    cfrp.write("conf/confd/p.toml", PROXY.format("p"))
    cfrp.write("conf/c.toml", 'includes = ["./confd/*.toml"]\n')
    res = cfrp.run("frpc", "verify", "-c", "conf/c.toml")
    assert_exit(res, 1)
    assert res.stdout == f"stat {Path(cfrp.tmp).resolve()}/confd: no such file or directory\n"
    res = cfrp.run("frpc", "verify", "-c", "c.toml", cwd=cfrp.tmp / "conf")
    assert_exit(res, 0)
