"""`frps verify` / `frpc verify` against every v1 (non-INI) row of
vectors/cli-output.txt section 2: the config each row describes is written to a file,
verified through the real binary, and stdout and the exit status are compared exactly.
Rows where cfrp departs from v0.61.1 on purpose (decisions.md) assert cfrp's documented
behaviour and name the decision."""

import pytest

from cfrp_harness import assert_exit

OK = object()  # "ok": the syntax-is-ok line, exit 0

ANNOTATION_RULE = ("is invalid: name part must consist of alphanumeric characters, '-', '_' or "
                   "'.', and must start and end with an alphanumeric character (e.g. 'MyName',  "
                   "or 'my.name',  or '123-abc', regex used for validation is "
                   "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


def proxy(body, name="a", ptype="tcp"):
    """One TOML [[proxies]] table (name/type omitted when None)."""
    head = ""
    if name is not None:
        head += f'name = "{name}"\n'
    if ptype is not None:
        head += f'type = "{ptype}"\n'
    return "[[proxies]]\n" + head + body


# (id, prog, file name, content, extra args, expected stdout lines or OK, exit status)
CASES = [
    ("tls-heartbeat-protocol", "frpc", "c.toml",
     '[transport]\nprotocol = "udp"\nheartbeatInterval = 30\nheartbeatTimeout = 10\n'
     '[transport.tls]\nenable = false\ncertFile = "x"\n', [],
     ["WARNING: transport.tls.certFile is invalid when transport.tls.enable is false",
      "invalid transport.heartbeatTimeout, heartbeat timeout should not less than heartbeat interval",
      "invalid transport.protocol, optional values are [tcp kcp quic websocket wss]"], 1),
    ("five-bad-ports", "frps", "s.toml",
     "kcpBindPort = -1\nquicBindPort = 65536\nvhostHTTPPort = 99999\nvhostHTTPSPort = -5\n"
     "tcpmuxHTTPConnectPort = 70000\n", [],
     ["kcpBindPort: port number -1 must be in the range 0..65535",
      "quicBindPort: port number 65536 must be in the range 0..65535",
      "vhostHTTPPort: port number 99999 must be in the range 0..65535",
      "vhostHTTPSPort: port number -5 must be in the range 0..65535",
      "tcpMuxHTTPConnectPort: port number 70000 must be in the range 0..65535"], 1),
    ("webserver-first-error-only", "frps", "s.toml", "[webServer]\nport = 70000\n[webServer.tls]\n",
     [], ["tls.certFile must be specified when tls is enabled"], 1),
    ("bindPort-range", "frps", "s.toml", "bindPort = 70000\n", [],
     ["bindPort: port number 70000 must be in the range 0..65535"], 1),
    ("auth-method-case", "frps", "s.toml", 'auth.method = "Token"\n', [],
     ["invalid auth method, optional values are [token oidc]"], 1),
    ("auth-scopes-case", "frps", "s.toml", 'auth.additionalScopes = ["heartbeats"]\n', [],
     ["invalid auth additional scopes, optional values are [HeartBeats NewWorkConns]"], 1),
    ("log-level-case", "frps", "s.toml", 'log.level = "INFO"\n', [],
     ["invalid log level, optional values are [trace debug info warn error]"], 1),
    ("plugin-ops", "frps", "s.toml",
     '[[httpPlugins]]\nname = "p"\naddr = "127.0.0.1:9000"\npath = "/h"\nops = ["Login", "login"]\n',
     [], ["invalid http plugin ops, optional values are "
          "[Login NewProxy CloseProxy Ping NewWorkConn NewUserConn]"], 1),
    ("strict-unknown", "frps", "s.toml", 'bindAdur = "x"\n', [],
     ['json: unknown field "bindAdur"'], 1),
    ("nonstrict-unknown", "frps", "s.toml", 'bindAdur = "x"\n', ["--strict_config=false"], OK, 0),
    ("key-case", "frps", "s.toml", "BINDPORT = 7001\n", [], OK, 0),
    ("quoted-int", "frps", "s.toml", 'bindPort = "7000"\n', [],
     ["json: cannot unmarshal string into Go struct field ServerConfig.bindPort of type int"], 1),
    ("float-whole", "frps", "s.toml", "bindPort = 7000.0\n", [], OK, 0),
    ("float-fraction", "frps", "s.toml", "bindPort = 7000.5\n", [],
     ["json: cannot unmarshal number 7000.5 into Go struct field ServerConfig.bindPort of type int"], 1),
    ("float-inf", "frps", "s.toml", "bindPort = inf\n", [], ["json: unsupported value: +Inf"], 1),
    ("json-trailing", "frps", "s.json", '{"bindPort":7000} garbage', [], OK, 0),
    ("json-syntax", "frps", "s.json", '{"bindPort":7000,}', [],
     ["invalid character '}' looking for beginning of object key string"], 1),
    ("yaml-duplicate", "frps", "s.yaml", "bindPort: 7000\nbindPort: 7001\n", [],
     ["error converting YAML to JSON: yaml: unmarshal errors:",
      '  line 2: key "bindPort" already set in map'], 1),
    ("yaml-syntax", "frps", "s.yaml", "bindPort: [\n", [],
     ["error converting YAML to JSON: yaml: line 1: did not find expected node content"], 1),
    ("yaml-frps-coerced", "frps", "s.yaml", "auth:\n  token: 12345678\nsubDomainHost: yes\n", [],
     OK, 0),
    ("yaml-frpc-user-bool", "frpc", "c.yaml", "user: yes\n", [],
     ["error unmarshaling JSON: while decoding JSON: json: cannot unmarshal bool into Go struct "
      "field ClientConfig.user of type string"], 1),
    ("yaml-frpc-serverAddr-number", "frpc", "c.yaml", "serverAddr: 1234\n", [],
     ["error unmarshaling JSON: while decoding JSON: json: cannot unmarshal number into Go struct "
      "field ClientConfig.serverAddr of type string"], 1),
    ("empty-file", "frps", "s.toml", "", [], OK, 0),
    ("only-comment", "frps", "s.toml", "# nothing here\n", [], OK, 0),
    ("allowPorts-reversed", "frps", "s.toml", "allowPorts = [{start = 3000, end = 2000}]\n", [], OK, 0),
    ("unchecked-ports", "frps", "s.toml",
     "maxPortsPerClient = -1\nsshTunnelGateway.bindPort = 99999\n", [], OK, 0),
    ("http-no-domains-user", "frpc", "c.toml",
     'user = "u1"\n' + proxy("localPort = 80\n", name="web", ptype="http"), [],
     ["proxy u1.web: subdomain and custom domains should not be both empty"], 1),
    ("localPort-range", "frpc", "c.toml", proxy("localPort = 70000\n"), [],
     ["proxy a: localPort: localPort: port number 70000 must be in the range 0..65535"], 1),
    ("stcp-remotePort", "frpc", "c.toml", proxy('secretKey = "k"\nremotePort = 6000\n', ptype="stcp"),
     [], ['unmarshal ProxyConfig error: json: unknown field "remotePort"'], 1),
    ("proxy-protocol-v3", "frpc", "c.toml", proxy('transport.proxyProtocolVersion = "v3"\n'), [],
     ["proxy a: not support proxy protocol version: v3"], 1),
    ("bandwidth-mode", "frpc", "c.toml", proxy('transport.bandwidthLimitMode = "both"\n'), [],
     ["proxy a: bandwidth limit mode should be client or server"], 1),
    ("bandwidth-1GB", "frpc", "c.toml", proxy('transport.bandwidthLimit = "1GB"\n'), [],
     ["unmarshal ProxyConfig error: unit not support"], 1),
    ("bandwidth-1mb", "frpc", "c.toml", proxy('transport.bandwidthLimit = "1mb"\n'), [],
     ["unmarshal ProxyConfig error: unit not support"], 1),
    ("bandwidth-MB", "frpc", "c.toml", proxy('transport.bandwidthLimit = "MB"\n'), [],
     ['unmarshal ProxyConfig error: strconv.ParseFloat: parsing "": invalid syntax'], 1),
    ("bandwidth-xMB", "frpc", "c.toml", proxy('transport.bandwidthLimit = "xMB"\n'), [],
     ['unmarshal ProxyConfig error: strconv.ParseFloat: parsing "x": invalid syntax'], 1),
    ("bandwidth-number", "frpc", "c.toml", proxy("transport.bandwidthLimit = 100\n"), [],
     ["unmarshal ProxyConfig error: json: cannot unmarshal number into Go struct field "
      "ProxyTransport.transport.bandwidthLimit of type string"], 1),
    ("healthcheck-udp", "frpc", "c.toml", proxy('healthCheck.type = "udp"\n'), [],
     ["proxy a: not support health check type: udp"], 1),
    ("healthcheck-http-no-path", "frpc", "c.toml", proxy('healthCheck.type = "http"\n'), [],
     ["proxy a: health check path should not be empty"], 1),
    ("static-file-no-path", "frpc", "c.toml", proxy('[proxies.plugin]\ntype = "static_file"\n'), [],
     ["proxy a: plugin static_file: localPath is required"], 1),
    ("http2http-no-addr", "frpc", "c.toml", proxy('[proxies.plugin]\ntype = "http2http"\n'), [], OK, 0),
    ("plugin-type-foo", "frpc", "c.toml", proxy('[proxies.plugin]\ntype = "foo"\n'), [],
     ["unmarshal ProxyConfig error: unknown plugin type: foo"], 1),
    ("plugin-type-empty", "frpc", "c.toml", proxy('[proxies.plugin]\ntype = ""\n'), [],
     ["unmarshal ProxyConfig error: plugin type is empty"], 1),
    ("socks5-unknown-key", "frpc", "c.toml", proxy('[proxies.plugin]\ntype = "socks5"\nx = 1\n'), [],
     ['unmarshal ProxyConfig error: unmarshal ClientPluginOptions error: json: unknown field "x"'], 1),
    ("tcpmux-no-multiplexer", "frpc", "c.toml",
     proxy('customDomains = ["a.example.com"]\n', ptype="tcpmux"), [],
     ["proxy a: not support multiplexer: "], 1),
    ("tcpmux-no-domains", "frpc", "c.toml", proxy('multiplexer = "httpconnect"\n', ptype="tcpmux"),
     [], ["proxy a: subdomain and custom domains should not be both empty"], 1),
    ("proxy-type-foo", "frpc", "c.toml", proxy("localPort = 1\n", ptype="foo"), [],
     ["unknown proxy type: foo"], 1),
    ("proxy-type-missing", "frpc", "c.toml", proxy("localPort = 1\n", ptype=None), [],
     ["unknown proxy type: "], 1),
    ("proxy-no-name-user", "frpc", "c.toml", 'user = "u"\n' + proxy("localPort = 1\n", name=None),
     [], OK, 0),
    ("proxy-no-name", "frpc", "c.toml", proxy("localPort = 1\n", name=None), [],
     ["proxy : name should not be empty"], 1),
    ("same-name-twice", "frpc", "c.toml", proxy("localPort = 1\n") + proxy("localPort = 2\n"), [],
     OK, 0),
    ("unchecked-client-ports", "frpc", "c.toml",
     "serverPort = 99999\n" + proxy("localPort = 1\nremotePort = 99999\n"), [], OK, 0),
    ("visitor-no-bindPort", "frpc", "c.toml",
     '[[visitors]]\nname = "v"\ntype = "stcp"\nserverName = "s"\n', [],
     ["visitor v: bind port is required"], 1),
    ("xtcp-visitor-protocol", "frpc", "c.toml",
     '[[visitors]]\nname = "v"\ntype = "xtcp"\nserverName = "s"\nbindPort = 9000\nprotocol = "tcp"\n',
     [], ["visitor v: protocol should be kcp or quic"], 1),
    ("visitor-type-http", "frpc", "c.toml", '[[visitors]]\nname = "v"\ntype = "http"\n', [],
     ["unknown visitor type: http"], 1),
    ("visitor-no-name", "frpc", "c.toml",
     '[[visitors]]\ntype = "stcp"\nserverName = "s"\nbindPort = -1\n', [],
     ["visitor : name is required"], 1),
    ("visitor-no-serverName", "frpc", "c.toml",
     '[[visitors]]\nname = "v"\ntype = "stcp"\nbindPort = 9000\n', [],
     ["visitor v: server name is required"], 1),
    ("webserver-tls-cert-only", "frps", "s.toml",
     '[webServer]\nport = 7500\n[webServer.tls]\ncertFile = "c.pem"\n', [],
     ["tls.keyFile must be specified when tls is enabled"], 1),
    ("loginFailExit-string", "frpc", "c.toml", 'loginFailExit = "false"\n', [],
     ["json: cannot unmarshal string into Go struct field ClientConfig.loginFailExit of type bool"], 1),
    ("json-null-proxy", "frpc", "c.json", '{"proxies":[null]}', [], ["type is required"], 1),
    ("template-bad-field", "frps", "s.toml", 'auth.token = "{{ .Foo }}"\n', [],
     ['template: frp:1:17: executing "frp" at <.Foo>: can\'t evaluate field Foo in type '
      '*config.Values'], 1),
    ("template-range-error", "frpc", "c.toml",
     '{{- range $_, $v := parseNumberRange "1-x" }}\n[[proxies]]\nname = "p{{ $v }}"\n{{- end }}\n',
     [], ['template: frp:1:20: executing "frp" at <parseNumberRange "1-x">: error calling '
          'parseNumberRange: range number is invalid, strconv.ParseInt: parsing "x": invalid syntax'],
     1),
]


@pytest.mark.parametrize("prog,name,content,args,want,code",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_verify_row(cfrp, prog, name, content, args, want, code):
    cfrp.write(name, content)
    res = cfrp.run(prog, "verify", "-c", name, *args)
    assert_exit(res, code)
    if want is OK:
        assert res.stdout == f"{prog}: the configuration file {name} syntax is ok\n"
    else:
        assert res.stdout == "".join(line + "\n" for line in want)


def test_annotation_keys_both_reported(cfrp):
    """Two bad annotation keys: both, one per line, in unspecified (map) order."""
    cfrp.write("c.toml", proxy('annotations = { "-x" = "1", "Bad Key" = "2" }\n'))
    res = cfrp.run("frpc", "verify", "-c", "c.toml")
    assert_exit(res, 1)
    lines = res.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("proxy a: annotation key ")
    bodies = sorted([lines[0][len("proxy a: "):], lines[1]])
    assert bodies == sorted([f"annotation key -x {ANNOTATION_RULE}",
                             f"annotation key Bad Key {ANNOTATION_RULE}"])


def test_includes_missing_directory(cfrp):
    """includes = ["./nodir/*.toml"]: Go's stat error on the directory made absolute
    against the working directory."""
    cfrp.write("c.toml", 'includes = ["./nodir/*.toml"]\n')
    res = cfrp.run("frpc", "verify", "-c", "c.toml")
    assert_exit(res, 1)
    assert res.stdout == f"stat {cfrp.tmp.resolve()}/nodir: no such file or directory\n"


@pytest.mark.parametrize("content", ["a = 1\na = 2\n", 'bindPort = 7000\nauth.token = "abc\n'],
                         ids=["duplicate-key", "unterminated-string"])
def test_toml_syntax_error_decision_3(cfrp, content):
    """decisions.md 3: a broken TOML file reports the TOML error with line and column
    (v0.61.1 prints a misleading YAML type error here)."""
    cfrp.write("s.toml", content)
    res = cfrp.run("frps", "verify", "-c", "s.toml")
    assert_exit(res, 1)
    line = 2
    assert res.stdout.startswith(f"s.toml: toml: line {line}, column "), res
    assert len(res.stdout.splitlines()) == 1
    assert "cannot unmarshal string into Go value" not in res.stdout


def test_template_no_html_escaping_decision_1(cfrp):
    """decisions.md 1: templates render as text/template, so a literal '<' is just a
    character (v0.61.1 fails with an html/template error)."""
    cfrp.write("s.toml", 'subDomainHost = "a<b"\n')
    res = cfrp.run("frps", "verify", "-c", "s.toml")
    assert_exit(res, 0)
    assert res.stdout == "frps: the configuration file s.toml syntax is ok\n"


@pytest.mark.parametrize("prog", ["frps", "frpc"])
def test_path_echoed_as_given(cfrp, prog):
    path = cfrp.write("sub/x.toml", "")
    for given in ("sub/x.toml", "./sub/x.toml", path):
        res = cfrp.run(prog, "verify", "-c", given)
        assert_exit(res, 0)
        assert res.stdout == f"{prog}: the configuration file {given} syntax is ok\n"
